package store_test

import (
	"testing"

	"github.com/ragpipe/ragpipe/store"
	"github.com/ragpipe/ragpipe/store/storetest"
)

func TestEmbeddedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.OpenEmbedded(t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.Open(t.Context(), storetest.PostgresDSN(t), false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestEmbeddedNamespaces(t *testing.T) {
	storetest.RunNamespaces(t, func(t *testing.T) string { return t.TempDir() })
}

func TestPostgresNamespaces(t *testing.T) {
	storetest.RunNamespaces(t, func(t *testing.T) string { return storetest.PostgresDSN(t) })
}
