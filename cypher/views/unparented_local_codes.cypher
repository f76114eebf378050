// purpose: site-local codes of one synced build that still have no parent, curated or learned (the work list of Stage III)
// parameters: site (string, default '') - a Site id, or '' for every site; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param site => ''; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
MATCH (c:Code)
WHERE c.site IS NOT NULL AND ($site = '' OR c.site = $site)
  AND CASE WHEN c.origin = 'build'
        THEN EXISTS { (c)-[:HAS_STATE]->(s:CodeState) WHERE s.valid_from <= v AND coalesce(s.valid_to, v + 1) > v }
        ELSE coalesce(c.status, 'active') = 'active' END
  AND NOT EXISTS { (c)-[r:IS_A|MASH_IS_A]->() WHERE coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v }
RETURN c.site AS site, c.id AS id, c.name AS name, c.domain AS domain
ORDER BY site, id;
