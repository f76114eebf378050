// purpose: cross-site equivalents of a code learned by the alignment (ALIGNED_WITH, either direction) in one synced build, best first
// parameters: code (string) - a Code id such as 'B/LOCAL_LAB:100123' or 'LOINC:2345-7'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param code => 'LOINC:8480-6'; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH (c:Code {id: $code})-[r:ALIGNED_WITH]-(o:Code)
WHERE coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
RETURN o.id AS id, o.name AS name, o.site AS site, r.rank AS rank, r.score AS score,
       r.transport AS transport, r.method AS method, r.evidence AS evidence, r.build AS build,
       CASE WHEN startNode(r) = c THEN 'outgoing' ELSE 'incoming' END AS direction
ORDER BY coalesce(r.transport, 0.0) DESC, r.score DESC, id;
