// Package blob holds document contents too large to travel inline on
// documents.raw. A DocumentRaw of up to event.RawInlineMax bytes carries its
// content; a larger one carries a reference (content_ref) into a Store that
// the submitting command and every parse worker share.
//
// Store is the interface an object store (S3, GCS) would implement; Dir,
// the one built here, is a directory (local, or a shared mount such as NFS
// in a cluster), named by a path or a file:// URI.
//
// # Invariants
//
//   - Blobs are content-addressed: the key is the content's SHA-256, so
//     putting the same content twice stores it once and a reference never
//     changes meaning.
//   - Put returns only after the content is durable (written to a temporary
//     file, fsynced and renamed), so a reference on documents.raw never
//     points to a partial blob.
//   - Get resolves only references inside the store: a reference naming a
//     file elsewhere (../../etc/passwd, another root) is refused, so a
//     crafted record cannot read the worker's files.
//   - Get never reads more than the caller's limit.
package blob
