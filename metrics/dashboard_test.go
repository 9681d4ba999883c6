package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// registered returns every name a worker's Metrics registers, its Kafka
// client's included.
func registered(t *testing.T) []string {
	t.Helper()
	m := New()
	s := m.Stage("embed")
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, s.ClientOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close() // closing unregisters the client's metrics
	return m.Names()
}

// known reports whether a name used in a query is a registered metric, or
// a series of a registered histogram.
func known(names []string, n string) bool {
	if slices.Contains(names, n) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(names, base) {
			return true
		}
	}
	return false
}

var metricName = regexp.MustCompile(`\bragpipe_[a-z0-9_]+`)

func TestDashboardUsesOnlyRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/ragpipe.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Definition string
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	names := registered(t)
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := 0
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			used++
			if !known(names, n) {
				t.Errorf("dashboard uses %s, which is not registered (query %q)", n, e)
			}
		}
	}
	if used < 20 {
		t.Fatalf("only %d metric uses found: is the dashboard empty?", used)
	}
}

// TestReadmeListsEveryMetric keeps the README's metric list true: every
// ragpipe_ name it mentions is registered, and every registered ragpipe_
// name outside the Kafka client's is listed.
func TestReadmeListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := registered(t)
	inReadme := map[string]bool{}
	for _, n := range metricName.FindAllString(string(b), -1) {
		if strings.HasSuffix(n, "_") { // a prefix, such as ragpipe_kafka_
			continue
		}
		inReadme[n] = true
		if !known(names, n) && !strings.HasPrefix(n, "ragpipe_kafka_") {
			t.Errorf("README names %s, which is not registered", n)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, Namespace+"_") && !strings.HasPrefix(n, "ragpipe_kafka_") && !inReadme[n] {
			t.Errorf("README does not list %s", n)
		}
	}
}
