package event_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ragpipe/ragpipe/event"
	"github.com/ragpipe/ragpipe/fault"
	ragpipev1 "github.com/ragpipe/ragpipe/proto/ragpipe/v1"
)

func documentRaw() *ragpipev1.DocumentRaw {
	content := []byte("%PDF-1.7 ...")
	return &ragpipev1.DocumentRaw{
		TenantId: "acme", DocId: "docs/manual.pdf", DocVersion: 3,
		MediaType: "application/pdf", Source: "/srv/docs/manual.pdf",
		ContentHash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ContentSize: int64(len(content)), Metadata: map[string]string{"team": "ops"},
		Body: &ragpipev1.DocumentRaw_Content{Content: content}, SubmittedAt: testTime,
	}
}

func TestDocumentRaw(t *testing.T) {
	roundTrip(t, event.TopicRaw, documentRaw(), event.DecodeDocumentRaw)
	ref := documentRaw()
	ref.ContentSize = 50 << 20
	ref.Body = &ragpipev1.DocumentRaw_ContentRef{ContentRef: "file:///shared/blobs/sha256/9f/86d0"}
	roundTrip(t, event.TopicRaw, ref, event.DecodeDocumentRaw)

	bad := map[string]func(m *ragpipev1.DocumentRaw){
		"no body":       func(m *ragpipev1.DocumentRaw) { m.Body = nil },
		"empty ref":     func(m *ragpipev1.DocumentRaw) { m.Body = &ragpipev1.DocumentRaw_ContentRef{} },
		"size mismatch": func(m *ragpipev1.DocumentRaw) { m.ContentSize++ },
		"no hash":       func(m *ragpipev1.DocumentRaw) { m.ContentHash = "" },
		"no tenant":     func(m *ragpipev1.DocumentRaw) { m.TenantId = "" },
		"negative size": func(m *ragpipev1.DocumentRaw) {
			m.Body, m.ContentSize = &ragpipev1.DocumentRaw_ContentRef{ContentRef: "file:///x"}, -1
		},
		"inline too big": func(m *ragpipev1.DocumentRaw) {
			big := make([]byte, event.RawInlineMax+1)
			m.Body, m.ContentSize = &ragpipev1.DocumentRaw_Content{Content: big}, int64(len(big))
		},
	}
	for name, breakIt := range bad {
		m := documentRaw()
		breakIt(m)
		if _, _, err := event.Encode(m); err == nil || fault.ClassOf(err) != fault.ClassRecord {
			t.Errorf("%s: Encode error %v", name, err)
		}
		value := mustMarshal(t, m)
		if _, err := event.DecodeDocumentRaw(&kgo.Record{Topic: event.TopicRaw, Value: value}); err == nil || fault.ClassOf(err) != fault.ClassRecord {
			t.Errorf("%s: Decode error %v", name, err)
		}
	}
	// A record that is not a DocumentRaw at all.
	_, err := event.DecodeDocumentRaw(&kgo.Record{Topic: event.TopicRaw, Value: []byte{0xff, 0xff, 0xff}})
	if err == nil || fault.ClassOf(err) != fault.ClassRecord || !strings.Contains(err.Error(), "DocumentRaw") {
		t.Errorf("garbage: %v", err)
	}
}
