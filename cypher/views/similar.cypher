// purpose: codes whose embeddings in one synced build are nearest to a code's (cosine, exact over that build's code states)
// parameters: code (string) - a Code id that a synced build embedded; k (integer, default 10, 1..1000) - how many; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param code => 'LOINC:8480-6'; :param k => 10; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH (c:Code {id: $code})-[:HAS_STATE]->(cs:CodeState)
WHERE cs.valid_from <= v AND coalesce(cs.valid_to, v + 1) > v AND cs.embedding IS NOT NULL
MATCH (node:Code)-[:HAS_STATE]->(s:CodeState)
WHERE s.valid_from <= v AND coalesce(s.valid_to, v + 1) > v AND s.embedding IS NOT NULL AND node <> c
WITH node, s, vector.similarity.cosine(cs.embedding, s.embedding) AS score
RETURN node.id AS id, node.name AS name, s.sites AS sites, score
ORDER BY score DESC, id
LIMIT $k;
