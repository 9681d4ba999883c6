package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// postgresNamespaces is the registry of a PostgreSQL store location: the
// index_namespaces table of the location's schema (migration 0004). The
// default namespace is the schema's own tables; every other one is a
// schema of its own, named after the location's schema and the
// namespace, holding the same tables (the same migrations), with its own
// vector(N) column and HNSW index.
type postgresNamespaces struct {
	cfg    PostgresConfig
	root   *Postgres
	schema string // the location's schema (current_schema())
}

func openPostgresNamespaces(ctx context.Context, cfg PostgresConfig) (*postgresNamespaces, error) {
	root, err := OpenPostgres(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &postgresNamespaces{cfg: cfg, root: root}
	if err := root.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&p.schema); err != nil {
		root.Close()
		return nil, fmt.Errorf("store: reading the schema of %s: %w", root.desc, err)
	}
	return p, nil
}

// schemaFor names the schema of a non-default namespace.
func (p *postgresNamespaces) schemaFor(name string) (string, error) {
	s := p.schema + "_ns_" + name
	if len(s) > 63 {
		return "", fmt.Errorf("store: namespace name %q is too long for schema %q (PostgreSQL names hold 63 bytes)", name, p.schema)
	}
	return s, nil
}

const listNamespacesSQL = `SELECT name, model, dimensions, state, schema_name, created_at FROM index_namespaces ORDER BY created_at, name`

type pgNamespace struct {
	Namespace
	schema string
}

func (p *postgresNamespaces) list(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, lock bool) ([]pgNamespace, error) {
	sql := listNamespacesSQL
	if lock {
		sql += " FOR UPDATE"
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("store: reading the namespace registry: %w", err)
	}
	defer rows.Close()
	var out []pgNamespace
	for rows.Next() {
		var (
			n     pgNamespace
			state string
		)
		if err := rows.Scan(&n.Name, &n.Model, &n.Dimensions, &state, &n.schema, &n.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: reading the namespace registry: %w", err)
		}
		n.State = NamespaceState(state)
		n.CreatedAt = n.CreatedAt.UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading the namespace registry: %w", err)
	}
	return out, nil
}

func (p *postgresNamespaces) find(ctx context.Context, name string) (pgNamespace, error) {
	list, err := p.list(ctx, p.root.pool, false)
	if err != nil {
		return pgNamespace{}, err
	}
	if n := lookup(list, name); n != nil {
		return *n, nil
	}
	return pgNamespace{}, fmt.Errorf("store: namespace %s of %s: %w", name, p.root.desc, ErrNoNamespace)
}

// lookup returns the named namespace of list, nil when it has none.
func lookup(list []pgNamespace, name string) *pgNamespace {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// registryTx runs fn in a transaction holding the registry's lock.
func (p *postgresNamespaces) registryTx(ctx context.Context, fn func(tx pgx.Tx, list []pgNamespace) error) error {
	if p.cfg.ReadOnly {
		return errReadOnly
	}
	return pgx.BeginFunc(ctx, p.root.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('ragpipe-namespaces'), hashtext(current_schema()))"); err != nil {
			return fmt.Errorf("store: locking the namespace registry: %w", err)
		}
		list, err := p.list(ctx, tx, true)
		if err != nil {
			return err
		}
		return fn(tx, list)
	})
}

// List implements Namespaces.
func (p *postgresNamespaces) List(ctx context.Context) ([]Namespace, error) {
	list, err := p.list(ctx, p.root.pool, false)
	if err != nil {
		return nil, err
	}
	out := make([]Namespace, len(list))
	for i, n := range list {
		out[i] = n.Namespace
	}
	return out, nil
}

// Create implements Namespaces: the registry row and the schema in one
// transaction, then the schema's tables by the versioned migrations (a
// re-run completes them).
func (p *postgresNamespaces) Create(ctx context.Context, name, model string, dim int) (Namespace, error) {
	if err := ValidNamespaceName(name); err != nil {
		return Namespace{}, err
	}
	schema, err := p.schemaFor(name)
	if err != nil {
		return Namespace{}, err
	}
	var out Namespace
	err = p.registryTx(ctx, func(tx pgx.Tx, list []pgNamespace) error {
		if n := lookup(list, name); n != nil {
			if n.Model != model || n.Dimensions != dim {
				return fmt.Errorf("store: namespace %s exists for model %s (%d dims), not %s (%d dims); choose another --name", name, n.Model, n.Dimensions, model, dim)
			}
			out = n.Namespace
			return nil
		}
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("store: creating schema %s: %w", schema, err)
		}
		err := tx.QueryRow(ctx, `INSERT INTO index_namespaces (name, model, dimensions, state, schema_name)
			VALUES ($1, $2, $3, 'building', $4) RETURNING created_at`, name, model, dim, schema).Scan(&out.CreatedAt)
		if err != nil {
			return fmt.Errorf("store: registering namespace %s: %w", name, err)
		}
		out = Namespace{Name: name, Model: model, Dimensions: dim, State: StateBuilding, CreatedAt: out.CreatedAt.UTC()}
		return nil
	})
	if err != nil {
		return Namespace{}, err
	}
	// The namespace's tables: the same migrations, in its schema.
	st, err := OpenPostgres(ctx, p.nsConfig(schema, false))
	if err != nil {
		return Namespace{}, fmt.Errorf("store: creating the tables of namespace %s: %w", name, err)
	}
	st.Close()
	return out, nil
}

func (p *postgresNamespaces) nsConfig(schema string, readOnly bool) PostgresConfig {
	cfg := p.cfg
	cfg.ReadOnly = readOnly || p.cfg.ReadOnly
	cfg.Schema = schema
	return cfg
}

// Activate implements Namespaces: one transaction retires the active
// namespace and activates the named one.
func (p *postgresNamespaces) Activate(ctx context.Context, name string) error {
	return p.registryTx(ctx, func(tx pgx.Tx, list []pgNamespace) error {
		if lookup(list, name) == nil {
			return fmt.Errorf("store: namespace %s: %w", name, ErrNoNamespace)
		}
		if _, err := tx.Exec(ctx, "UPDATE index_namespaces SET state = 'retired' WHERE state = 'active' AND name <> $1", name); err != nil {
			return fmt.Errorf("store: activating %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE index_namespaces SET state = 'active' WHERE name = $1", name); err != nil {
			return fmt.Errorf("store: activating %s: %w", name, err)
		}
		return nil
	})
}

// Drop implements Namespaces. A namespace's schema goes with its tables;
// the default namespace's tables are the location's own and are emptied.
func (p *postgresNamespaces) Drop(ctx context.Context, name string) error {
	return p.registryTx(ctx, func(tx pgx.Tx, list []pgNamespace) error {
		ns := lookup(list, name)
		switch {
		case ns == nil:
			return fmt.Errorf("store: namespace %s: %w", name, ErrNoNamespace)
		case ns.State == StateActive:
			return fmt.Errorf("store: namespace %s is the active one; activate another first: %w", name, ErrActiveNamespace)
		case name == DefaultNamespace:
			if _, err := tx.Exec(ctx, "TRUNCATE chunks, documents, failed_versions, deleted_documents"); err != nil {
				return fmt.Errorf("store: dropping %s: %w", name, err)
			}
		default:
			if _, err := tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{ns.schema}.Sanitize()+" CASCADE"); err != nil {
				return fmt.Errorf("store: dropping %s: %w", name, err)
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM index_namespaces WHERE name = $1", name); err != nil {
			return fmt.Errorf("store: dropping %s: %w", name, err)
		}
		return nil
	})
}

// Record implements Namespaces.
func (p *postgresNamespaces) Record(ctx context.Context, name, model string, dim int) error {
	if p.cfg.ReadOnly {
		return errReadOnly
	}
	_, err := p.root.pool.Exec(ctx, "UPDATE index_namespaces SET model = $2, dimensions = $3 WHERE name = $1 AND model = ''", name, model, dim)
	if err != nil {
		return fmt.Errorf("store: recording the model of namespace %s: %w", name, err)
	}
	return nil
}

// Len implements Namespaces.
func (p *postgresNamespaces) Len(ctx context.Context, name string) (int, error) {
	ns, err := p.find(ctx, name)
	if err != nil {
		return 0, err
	}
	table := "chunks"
	if ns.schema != "" {
		table = pgx.Identifier{ns.schema, "chunks"}.Sanitize()
	}
	var n int
	if err := p.root.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting the chunks of %s: %w", name, err)
	}
	return n, nil
}

// OpenNamespace implements Namespaces.
func (p *postgresNamespaces) OpenNamespace(ctx context.Context, name string, readOnly bool) (Store, error) {
	ns, err := p.find(ctx, name)
	if err != nil {
		return nil, err
	}
	return OpenPostgres(ctx, p.nsConfig(ns.schema, readOnly))
}

// Describe implements Namespaces.
func (p *postgresNamespaces) Describe() string { return p.root.desc }

// Close implements Namespaces.
func (p *postgresNamespaces) Close() error { return p.root.Close() }
