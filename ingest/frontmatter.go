package ingest

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxFrontMatter bounds the front matter block that is parsed as YAML.
const maxFrontMatter = 64 << 10

// frontMatter removes a YAML front matter block (a first line "---", then
// lines up to a closing "---" or "..."), as static site generators use, and
// returns the rest with the block's fields as metadata. Without the cut,
// goldmark would read the block as a thematic break and a heading.
//
// The block is parsed with gopkg.in/yaml.v3 and flattened: a scalar is
// kept as text (a date as YYYY-MM-DD or RFC 3339), a list of scalars is
// joined with ", ", a mapping's keys are joined to its parent's with "."
// ("author.name"). A block that is not valid YAML (or over 64 KiB) is
// still removed, and only its "key: value" lines are kept.
func frontMatter(src []byte) ([]byte, map[string]string) {
	rest, ok := cutLine(src, "---")
	if !ok {
		return src, nil
	}
	body := rest
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i], rest[i+1:]
		}
		l := strings.TrimRight(string(line), " \t\r")
		if l == "---" || l == "..." {
			block := body[:len(body)-len(rest)]
			return next, frontMatterMeta(block)
		}
		rest = next
	}
	return src, nil // not closed: not front matter
}

func frontMatterMeta(block []byte) map[string]string {
	var meta map[string]string
	var root yaml.Node
	if len(block) <= maxFrontMatter && yaml.Unmarshal(block, &root) == nil {
		if len(root.Content) == 1 && root.Content[0].Kind == yaml.MappingNode {
			flattenYAML(&meta, "", root.Content[0], 0)
			return meta
		}
	}
	// Not YAML (or not a mapping): keep the simple "key: value" lines.
	for _, line := range strings.Split(string(block), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, " ") && !strings.HasPrefix(k, "#") {
			setMeta(&meta, k, strings.Trim(strings.TrimSpace(v), `"'`))
		}
	}
	return meta
}

// flattenYAML adds the fields of a YAML node to *meta (see frontMatter).
func flattenYAML(meta *map[string]string, key string, n *yaml.Node, depth int) {
	if depth > 8 || n == nil {
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		flattenYAML(meta, key, n.Alias, depth+1)
	case yaml.ScalarNode:
		setMeta(meta, key, yamlScalar(n))
	case yaml.SequenceNode:
		var items []string
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode {
				items = append(items, yamlScalar(c))
			}
		}
		setMeta(meta, key, strings.Join(items, ", "))
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if key != "" {
				k = key + "." + k
			}
			flattenYAML(meta, k, n.Content[i+1], depth+1)
		}
	}
}

func yamlScalar(n *yaml.Node) string {
	if n.Tag == "!!timestamp" {
		var t time.Time
		if n.Decode(&t) == nil {
			if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
				return t.Format(time.DateOnly)
			}
			return t.Format(time.RFC3339)
		}
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// cutLine returns what follows the first line of src when that line is
// want (ignoring trailing spaces).
func cutLine(src []byte, want string) ([]byte, bool) {
	i := bytes.IndexByte(src, '\n')
	if i < 0 || strings.TrimRight(string(src[:i]), " \t\r") != want {
		return nil, false
	}
	return src[i+1:], true
}

// metaString renders metadata as sorted key=value pairs, for messages and
// tests.
func metaString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(m[k]))
	}
	return b.String()
}
