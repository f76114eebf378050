// purpose: site-local codes that still have no parent, curated or learned (the work list of Stage III)
// parameters: site (string, default '') - a Site id, or '' for every site
// example: :param site => ''
MATCH (c:Code)
WHERE c.site IS NOT NULL AND ($site = '' OR c.site = $site) AND coalesce(c.status, 'active') = 'active'
  AND NOT (c)-[:IS_A|MASH_IS_A]->()
RETURN c.site AS site, c.id AS id, c.name AS name, c.domain AS domain
ORDER BY site, id;
