// Package store holds indexed chunks and answers nearest-neighbour queries.
//
// The embedded store, the default, keeps every chunk in memory and appends
// each change to a log file under its directory (vectors.log), fsynced
// before Upsert returns: the index stage commits its input offsets only
// after that, so an acknowledged chunk survives a crash. Opening the store
// replays the log; a torn last line from a crash is ignored. When the log
// holds more than twice the live entries it is rewritten on open.
//
// Upserts are keyed by (tenant, document, version, chunk index), so a
// replayed record overwrites itself instead of adding a duplicate. Search
// is exact cosine similarity over the newest version of each document of
// one tenant: a brute-force scan, which is fine up to a few hundred
// thousand chunks; a larger corpus belongs in a dedicated vector database.
//
// A failed version is removed and tombstoned with the delivery that failed
// (a replay id or an ingest run id, see event.Delivery): later chunks of
// that delivery are ignored, while a chunk of another delivery (a replay,
// a fresh ingest) clears the tombstone, also when the log is replayed.
//
// One process writes a store at a time (an flock on the directory guards
// it); any number may open it read-only, e.g. `ragpipe search` while
// `ragpipe index` runs.
package store
