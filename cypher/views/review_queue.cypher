// purpose: learned edges with the lowest confidence first, for review, in one synced build: MASH_IS_A by score, best ALIGNED_WITH match by transport probability; edges a reviewer accepted or rejected (a :Decision keyed by the edge's ends) are left out
// parameters: threshold (float, default 0.5, 0..1) - show edges below this confidence; limit (integer, default 100, 1..10000) - most rows; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param threshold => 0.5; :param limit => 50; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
CALL {
  WITH v
  MATCH (a)-[r:MASH_IS_A]->(b) WHERE r.score < $threshold AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
  RETURN 'MASH_IS_A' AS edge, a.id AS from_id, a.name AS from_name, b.id AS to_id, b.name AS to_name, r.score AS confidence, r.build AS build
  UNION ALL
  WITH v
  MATCH (a:Code)-[r:ALIGNED_WITH {rank: 1}]->(b:Code) WHERE r.transport < $threshold AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
  RETURN 'ALIGNED_WITH' AS edge, a.id AS from_id, a.name AS from_name, b.id AS to_id, b.name AS to_name, r.transport AS confidence, r.build AS build
}
WITH edge, from_id, from_name, to_id, to_name, confidence, build
OPTIONAL MATCH (d:Decision {key: edge + '|' + from_id + '|' + to_id})
WITH edge, from_id, from_name, to_id, to_name, confidence, build, d
WHERE d IS NULL OR NOT d.decision IN ['accept', 'reject']
RETURN edge, from_id, from_name, to_id, to_name, confidence, build, d.decision AS decision
ORDER BY confidence, from_id, to_id
LIMIT $limit;
