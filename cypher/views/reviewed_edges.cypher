// purpose: review decisions on learned edges (accept, reject, discuss; a move is a reject of the old parent with moved_to plus an accept of the new one with moved_from), newest first, with whether one synced build holds the edge
// parameters: decision (string, default 'any') - 'any', 'accept', 'reject' or 'discuss'; limit (integer, default 1000, 1..100000) - most rows; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param decision => 'any'; :param limit => 100; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH (d:Decision)
WHERE $decision = 'any' OR d.decision = $decision
RETURN d.relation AS edge, d.child AS child_id,
       coalesce(COLLECT { MATCH (c:Code {id: d.child}) RETURN c.name }[0], COLLECT { MATCH (l:Latent {id: d.child}) RETURN l.name }[0]) AS child_name,
       d.parent AS parent_id,
       coalesce(COLLECT { MATCH (c:Code {id: d.parent}) RETURN c.name }[0], COLLECT { MATCH (l:Latent {id: d.parent}) RETURN l.name }[0]) AS parent_name,
       d.decision AS decision, d.reviewer AS reviewer, d.decided_at AS decided_at, d.build AS build, d.comment AS comment,
       d.moved_to AS moved_to, d.moved_from AS moved_from,
       (exists {
         MATCH (:Code {id: d.child})-[r]->(b)
         WHERE b.id = d.parent AND type(r) = d.relation AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
       } OR exists {
         MATCH (:Latent {id: d.child})-[r]->(b)
         WHERE b.id = d.parent AND type(r) = d.relation AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
       }) AS in_graph
ORDER BY decided_at DESC, edge, child_id, parent_id
LIMIT $limit;
