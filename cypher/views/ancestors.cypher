// purpose: ancestors of a code, nearest first, in the curated (IS_A), learned (MASH_IS_A) or both hierarchies
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'; which (string, default 'curated') - 'curated', 'learned' or 'both'
// example: :param code => 'ICD10CM:E11.9'; :param which => 'curated'
MATCH path = (c:Code {id: $code})-[rels:IS_A|MASH_IS_A*1..100]->(a)
WHERE all(r IN rels WHERE $which = 'both' OR (type(r) = 'IS_A') = ($which = 'curated'))
WITH a, min(length(path)) AS distance
RETURN a.id AS id, a.name AS name, a.kind AS kind, distance
ORDER BY distance, id;
