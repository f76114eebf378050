// purpose: descendants of a code (e.g. a chapter), nearest first, in the curated, learned or both hierarchies, as one synced build holds them
// parameters: code (string) - a Code or Latent id such as 'ICD10CM:4'; which (string, default 'curated') - 'curated', 'learned' or 'both'; limit (integer, default 100, 1..10000) - most rows; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param code => 'ICD10CM:4'; :param which => 'curated'; :param limit => 100; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH path = (c {id: $code})<-[rels:IS_A|MASH_IS_A*1..100]-(d)
WHERE all(r IN rels WHERE ($which = 'both' OR (type(r) = 'IS_A') = ($which = 'curated'))
          AND coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v)
WITH d, min(length(path)) AS distance
RETURN d.id AS id, d.name AS name, distance
ORDER BY distance, id
LIMIT $limit;
