package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/ragpipe/ragpipe/embed"
	"github.com/ragpipe/ragpipe/metrics"
	"github.com/ragpipe/ragpipe/stage"
)

type obj = map[string]any

// manifests reads every YAML document under deploy/k8s.
func manifests(t *testing.T) []obj {
	t.Helper()
	files, err := filepath.Glob("../../deploy/k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var docs []obj
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			var d obj
			if err := yaml.Unmarshal([]byte(part), &d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if d != nil {
				docs = append(docs, d)
			}
		}
	}
	return docs
}

func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(obj)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func list(o any) []any { l, _ := o.([]any); return l }

func str(o any) string { s, _ := o.(string); return s }

// envNames are the environment variables the binary reads: every flag's
// RAGPIPE_<FLAG>, those named in the flags' help texts, and the embedder's
// API key variables.
func envNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{embed.EnvAPIKey: true, embed.EnvOpenAIAPIKey: true}
	re := regexp.MustCompile(`RAGPIPE_[A-Z0-9_]+`)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				names[envName(f.Name)] = true
				for _, n := range re.FindAllString(f.Usage, -1) {
					names[n] = true
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

func TestManifestsUseOnlyWhatTheBinaryHas(t *testing.T) {
	docs := manifests(t)
	env := envNames(newRootCmd())
	mux := metrics.New().Mux()
	config := map[string]string{} // ConfigMap and Secret entries
	workloads := map[string]obj{}
	var scaled []obj
	for _, d := range docs {
		switch str(d["kind"]) {
		case "ConfigMap":
			for k, v := range get(d, "data").(obj) {
				config[k] = str(v)
			}
		case "Secret":
			for k, v := range get(d, "stringData").(obj) {
				config[k] = str(v)
			}
		case "Deployment", "StatefulSet":
			workloads[str(get(d, "metadata", "name"))] = d
		case "ScaledObject":
			scaled = append(scaled, d)
		}
	}
	for k := range config {
		if !env[k] {
			t.Errorf("ConfigMap/Secret key %s is no variable the binary reads (known: %v)", k, keys(env))
		}
	}
	groups := map[string]string{} // workload → consumer group
	topics := map[string][]string{}
	for name, w := range workloads {
		spec := get(w, "spec", "template", "spec")
		for _, c := range list(get(spec, "containers")) {
			args := []string{}
			for _, a := range list(get(c, "args")) {
				args = append(args, str(a))
			}
			root := newRootCmd()
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Fatalf("%s: args %v name no command: %v", name, args, err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("%s: args %v: %v", name, args, err)
			}
			for _, e := range list(get(c, "env")) {
				if n := str(get(e, "name")); strings.HasPrefix(n, "RAGPIPE_") && !env[n] {
					t.Errorf("%s: env %s is no variable the binary reads", name, n)
				}
			}
			addr := config["RAGPIPE_METRICS_ADDR"]
			if f := cmd.Flags().Lookup("metrics-addr"); f == nil {
				t.Fatalf("%s: %s has no --metrics-addr", name, cmd.Name())
			} else if f.Changed {
				addr = f.Value.String()
			}
			_, portStr, _ := strings.Cut(addr, ":")
			port, _ := strconv.Atoi(portStr)
			ports := map[string]int{}
			for _, p := range list(get(c, "ports")) {
				n, _ := get(p, "containerPort").(float64)
				ports[str(get(p, "name"))] = int(n)
			}
			if port == 0 || !slices.Contains(mapValues(ports), port) {
				t.Errorf("%s: metrics address %q is not among the container ports %v", name, addr, ports)
			}
			for _, probe := range []string{"livenessProbe", "readinessProbe"} {
				path := str(get(c, probe, "httpGet", "path"))
				pp := get(c, probe, "httpGet", "port")
				pport, isNum := pp.(float64)
				if !isNum {
					pport = float64(ports[str(pp)])
				}
				if int(pport) != port {
					t.Errorf("%s: %s on port %v, metrics on %d", name, probe, pp, port)
				}
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code == http.StatusNotFound || path == "" {
					t.Errorf("%s: %s path %q is not served", name, probe, path)
				}
			}
			if want := map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"}; str(get(c, "livenessProbe", "httpGet", "path")) != want["livenessProbe"] ||
				str(get(c, "readinessProbe", "httpGet", "path")) != want["readinessProbe"] {
				t.Errorf("%s: liveness must be /healthz and readiness /readyz", name)
			}
			drain, err := time.ParseDuration(cmd.Flags().Lookup("drain-timeout").Value.String())
			if err != nil {
				t.Fatal(err)
			}
			grace, _ := get(spec, "terminationGracePeriodSeconds").(float64)
			if time.Duration(grace)*time.Second <= drain {
				t.Errorf("%s: terminationGracePeriodSeconds %v is not above --drain-timeout %s", name, grace, drain)
			}
			if str(get(w, "kind")) == "StatefulSet" {
				id := false
				for _, e := range list(get(c, "env")) {
					id = id || (str(get(e, "name")) == "RAGPIPE_INSTANCE_ID" && str(get(e, "valueFrom", "fieldRef", "fieldPath")) == "metadata.name")
				}
				if !id {
					t.Errorf("%s: a StatefulSet uses static membership: RAGPIPE_INSTANCE_ID from the pod name", name)
				}
			}
			groups[name] = cmd.Flags().Lookup("group").Value.String()
			switch cmd.Name() {
			case "embed":
				topics[name] = stage.EmbedWorker(embed.NewHash(0)).Topics
			case "index":
				topics[name] = stage.IndexWorker(nil).Topics
			}
		}
	}
	if len(workloads) < 2 {
		t.Fatalf("want the embed and index workloads, got %v", keys(workloads))
	}
	for _, so := range scaled {
		target := str(get(so, "spec", "scaleTargetRef", "name"))
		if _, ok := workloads[target]; !ok {
			t.Errorf("ScaledObject targets %q, no workload", target)
			continue
		}
		delete(workloads, target)
		for _, tr := range list(get(so, "spec", "triggers")) {
			if str(get(tr, "type")) != "kafka" {
				t.Errorf("%s: trigger %v is not kafka", target, get(tr, "type"))
			}
			if g := str(get(tr, "metadata", "consumerGroup")); g != groups[target] {
				t.Errorf("%s: scaled on group %q, runs in %q", target, g, groups[target])
			}
			if tp := str(get(tr, "metadata", "topic")); !slices.Contains(topics[target], tp) {
				t.Errorf("%s: scaled on topic %q, reads %v", target, tp, topics[target])
			}
			if e := str(get(tr, "metadata", "bootstrapServersFromEnv")); e != "" && !env[e] {
				t.Errorf("%s: brokers from %s, which the binary does not read", target, e)
			}
		}
	}
	if len(workloads) > 0 {
		t.Errorf("workloads without a ScaledObject: %v", keys(workloads))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// The image builds a static binary, runs it as non-root and serves the
// metrics on the port it exposes, set through a variable the binary reads.
func TestDockerfileIsStaticNonRootWithMetrics(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0 go build", "USER nonroot", ":nonroot"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	addr := regexp.MustCompile(`RAGPIPE_METRICS_ADDR=(\S*)`).FindStringSubmatch(df)
	expose := regexp.MustCompile(`(?m)^EXPOSE (\d+)`).FindStringSubmatch(df)
	if addr == nil || expose == nil || !strings.HasSuffix(addr[1], ":"+expose[1]) {
		t.Fatalf("the image must set RAGPIPE_METRICS_ADDR to the port it exposes: %v, %v", addr, expose)
	}
	if !envNames(newRootCmd())["RAGPIPE_METRICS_ADDR"] {
		t.Fatal("the binary does not read RAGPIPE_METRICS_ADDR")
	}
}
