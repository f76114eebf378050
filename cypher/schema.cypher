// mash-kg graph schema (Neo4j 5 Community). Applied idempotently on connect and by `mash-kg load`.
// Community Edition has uniqueness constraints and indexes; existence/key/type constraints are
// Enterprise-only, so required properties are enforced by the loaders' validation instead.

CREATE CONSTRAINT code_id IF NOT EXISTS FOR (n:Code) REQUIRE n.id IS UNIQUE;
// a latent group has a node per version interval (graph/reconcile/learned.py): unique by id and
// the version it was written in (a graph made before versions had a unique id only)
DROP CONSTRAINT latent_id IF EXISTS;
CREATE CONSTRAINT latent_version IF NOT EXISTS FOR (n:Latent) REQUIRE (n.id, n.valid_from) IS UNIQUE;
CREATE CONSTRAINT vocabulary_id IF NOT EXISTS FOR (n:Vocabulary) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT site_id IF NOT EXISTS FOR (n:Site) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT build_id IF NOT EXISTS FOR (n:Build) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT phenotype_id IF NOT EXISTS FOR (n:Phenotype) REQUIRE n.id IS UNIQUE;
// review decisions, keyed by relation|child id|parent id; no sync, rollback or prune touches them
CREATE CONSTRAINT decision_key IF NOT EXISTS FOR (n:Decision) REQUIRE n.key IS UNIQUE;
// one `mash-kg sync` at a time: the lock is a node with a unique id
CREATE CONSTRAINT sync_lock_id IF NOT EXISTS FOR (n:SyncLock) REQUIRE n.id IS UNIQUE;

CREATE INDEX code_vocab IF NOT EXISTS FOR (n:Code) ON (n.vocab);
CREATE INDEX code_site IF NOT EXISTS FOR (n:Code) ON (n.site);
CREATE INDEX code_code IF NOT EXISTS FOR (n:Code) ON (n.code);
CREATE INDEX code_domain IF NOT EXISTS FOR (n:Code) ON (n.domain);
CREATE INDEX latent_build IF NOT EXISTS FOR (n:Latent) ON (n.build);
CREATE INDEX latent_id_lookup IF NOT EXISTS FOR (n:Latent) ON (n.id);
CREATE INDEX build_seq IF NOT EXISTS FOR (n:Build) ON (n.seq);
CREATE INDEX build_active IF NOT EXISTS FOR (n:Build) ON (n.active);

// relationship property indexes: loaders and sync find "their" edges by these
CREATE INDEX is_a_vocab IF NOT EXISTS FOR ()-[r:IS_A]-() ON (r.vocab);
CREATE INDEX maps_to_source IF NOT EXISTS FOR ()-[r:MAPS_TO]-() ON (r.source);
CREATE INDEX mash_is_a_build IF NOT EXISTS FOR ()-[r:MASH_IS_A]-() ON (r.build);
CREATE INDEX aligned_with_build IF NOT EXISTS FOR ()-[r:ALIGNED_WITH]-() ON (r.build);

// full-text search over names and synonyms (synonyms is a list of strings)
CREATE FULLTEXT INDEX code_text IF NOT EXISTS FOR (n:Code|Latent) ON EACH [n.name, n.synonyms];
