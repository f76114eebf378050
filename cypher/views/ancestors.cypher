// purpose: ancestors of a code, nearest first, in the curated (IS_A), learned (MASH_IS_A) or both hierarchies, as one synced build holds them
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'; which (string, default 'curated') - 'curated', 'learned' or 'both'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param code => 'ICD10CM:E11.9'; :param which => 'curated'; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH path = (c:Code {id: $code})-[rels:IS_A|MASH_IS_A*1..100]->(a)
WHERE all(r IN rels WHERE ($which = 'both' OR (type(r) = 'IS_A') = ($which = 'curated'))
          AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v)
WITH a, min(length(path)) AS distance
RETURN a.id AS id, a.name AS name, a.kind AS kind, distance
ORDER BY distance, id;
