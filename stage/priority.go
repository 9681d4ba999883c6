package stage

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ragpipe/ragpipe/engine"
	"github.com/ragpipe/ragpipe/event"
)

// DefaultPriorityWeights are the embed stage's weights of the priorities
// (defined here once; `ragpipe embed --priority-weights` defaults to
// them): with a backlog at every priority, high gets 8/12 of the chunks
// embedded, normal 3/12 and low 1/12, and low always progresses.
func DefaultPriorityWeights() map[event.Priority]int {
	return map[event.Priority]int{event.PriorityHigh: 8, event.PriorityNormal: 3, event.PriorityLow: 1}
}

// ParsePriorityWeights parses a --priority-weights value such as
// "high=8,normal=3,low=1". A priority left out keeps its default weight;
// each weight is in [1, engine.MaxTopicWeight].
func ParsePriorityWeights(s string) (map[event.Priority]int, error) {
	w := DefaultPriorityWeights()
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("priority weight %q: want PRIORITY=WEIGHT, e.g. high=8", part)
		}
		p, err := event.ParsePriority(strings.TrimSpace(name))
		if err != nil || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("priority weight %q: unknown priority (want high, normal or low)", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 1 || n > engine.MaxTopicWeight {
			return nil, fmt.Errorf("priority weight %q: the weight must be an integer in [1, %d]", part, engine.MaxTopicWeight)
		}
		w[p] = n
	}
	return w, nil
}

// FormatPriorityWeights is the --priority-weights form of w, highest
// priority first.
func FormatPriorityWeights(w map[event.Priority]int) string {
	var parts []string
	for _, p := range event.Priorities() {
		if n, ok := w[p]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", p, n))
		}
	}
	return strings.Join(parts, ",")
}

// PriorityTopicWeights maps priority weights to the engine's topic
// weights (engine.Config.TopicWeights) of the parsed topics.
func PriorityTopicWeights(w map[event.Priority]int) map[string]int {
	out := make(map[string]int, len(w))
	for p, n := range w {
		out[event.PriorityTopic(p)] = n
	}
	return out
}
