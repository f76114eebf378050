// purpose: codes whose synced embeddings are nearest to a code's (vector index code_embedding, cosine)
// parameters: code (string) - a Code id that a synced build embedded; k (integer, default 10, 1..1000) - how many
// example: :param code => 'LOINC:8480-6'; :param k => 10
MATCH (c:Code {id: $code}) WHERE c.embedding IS NOT NULL
CALL db.index.vector.queryNodes('code_embedding', $k + 1, c.embedding) YIELD node, score
WITH c, node, score WHERE node <> c
RETURN node.id AS id, node.name AS name, node.sites AS sites, score
ORDER BY score DESC
LIMIT $k;
