// purpose: descendants of a code (e.g. a chapter), nearest first, in the curated, learned or both hierarchies
// parameters: code (string) - a Code or Latent id such as 'ICD10CM:4'; which (string, default 'curated') - 'curated', 'learned' or 'both'; limit (integer, default 100, 1..10000) - most rows
// example: :param code => 'ICD10CM:4'; :param which => 'curated'; :param limit => 100
MATCH path = (c {id: $code})<-[rels:IS_A|MASH_IS_A*1..100]-(d)
WHERE all(r IN rels WHERE $which = 'both' OR (type(r) = 'IS_A') = ($which = 'curated'))
WITH d, min(length(path)) AS distance
RETURN d.id AS id, d.name AS name, distance
ORDER BY distance, id
LIMIT $limit;
