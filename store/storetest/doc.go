// Package storetest is the conformance suite every store.Store passes:
// idempotent upserts, cosine ranking, metadata, tenant isolation, one
// searchable version per document (the newest complete one, swapped in
// without a mixed moment, also under concurrent search), failed-version
// tombstones, version deletes, document deletes (with their tombstones)
// and the dimension checks.
//
// RunNamespaces is the suite of a location's index namespaces
// (store.Namespaces and store.Router): the default namespace, create,
// upserts into two namespaces independently, Activate switching searches
// (also under concurrent searches: each answers from one namespace, and
// a reader sees the new one on its next open of the active namespace),
// Drop refusing the active one, and routing chunks by model.
//
// A store's tests call Run with a function that opens a new, empty store,
// and RunNamespaces with one that returns a new, empty location;
// PostgresDSN gives each PostgreSQL test a schema of its own (and drops
// its namespaces' schemas with it).
package storetest
