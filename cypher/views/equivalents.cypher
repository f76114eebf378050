// purpose: cross-site equivalents of a code learned by the alignment (ALIGNED_WITH, either direction), best first
// parameters: code (string) - a Code id such as 'B/LOCAL_LAB:100123' or 'LOINC:2345-7'
// example: :param code => 'LOINC:8480-6'
MATCH (c:Code {id: $code})-[r:ALIGNED_WITH]-(o:Code)
RETURN o.id AS id, o.name AS name, o.site AS site, r.rank AS rank, r.score AS score,
       r.transport AS transport, r.method AS method, r.evidence AS evidence, r.build AS build,
       CASE WHEN startNode(r) = c THEN 'outgoing' ELSE 'incoming' END AS direction
ORDER BY coalesce(r.transport, 0.0) DESC, r.score DESC;
