// Package storetest is the conformance suite every store.Store passes:
// idempotent upserts, cosine ranking, metadata, tenant isolation, one
// searchable version per document (the newest complete one, swapped in
// without a mixed moment, also under concurrent search), failed-version
// tombstones, version deletes, document deletes (with their tombstones)
// and the dimension checks.
//
// A store's tests call Run with a function that opens a new, empty store;
// PostgresDSN gives each PostgreSQL test a schema of its own.
package storetest
