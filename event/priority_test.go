package event

import (
	"slices"
	"testing"
)

func TestPriorityTopics(t *testing.T) {
	for in, want := range map[string]string{"": TopicParsed, "normal": TopicParsed, "high": TopicParsedHigh, "low": TopicParsedLow} {
		p, err := ParsePriority(in)
		if err != nil || PriorityTopic(p) != want {
			t.Errorf("priority %q: topic %s, %v; want %s", in, PriorityTopic(p), err, want)
		}
	}
	if _, err := ParsePriority("urgent"); err == nil {
		t.Error("unknown priority accepted")
	}
	if got := ParsedTopics(); !slices.Equal(got, []string{TopicParsedHigh, TopicParsed, TopicParsedLow}) {
		t.Errorf("ParsedTopics() = %v", got)
	}
	for _, tp := range ParsedTopics() {
		if !IsParsedTopic(tp) || !slices.Contains(Topics(), tp) {
			t.Errorf("%s: not a parsed topic, or not in Topics()", tp)
		}
	}
	if IsParsedTopic(TopicEmbedded) {
		t.Error("chunks.embedded taken for a parsed topic")
	}
}
