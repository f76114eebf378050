// purpose: learned edges with the lowest confidence first, for review: MASH_IS_A by score, best ALIGNED_WITH match by transport probability
// parameters: threshold (float, default 0.5, 0..1) - show edges below this confidence; limit (integer, default 100, 1..10000) - most rows
// example: :param threshold => 0.5; :param limit => 50
CALL {
  MATCH (a:Code)-[r:MASH_IS_A]->(b) WHERE r.score < $threshold
  RETURN 'MASH_IS_A' AS edge, a.id AS from_id, a.name AS from_name, b.id AS to_id, b.name AS to_name, r.score AS confidence, r.build AS build
  UNION ALL
  MATCH (a:Code)-[r:ALIGNED_WITH {rank: 1}]->(b:Code) WHERE r.transport < $threshold
  RETURN 'ALIGNED_WITH' AS edge, a.id AS from_id, a.name AS from_name, b.id AS to_id, b.name AS to_name, r.transport AS confidence, r.build AS build
}
RETURN edge, from_id, from_name, to_id, to_name, confidence, build
ORDER BY confidence
LIMIT $limit;
