package ops

import "time"

// Report is what Collect found.
type Report struct {
	Time     time.Time     `json:"time"`
	Interval time.Duration `json:"interval_ns"`
	Groups   []Group       `json:"groups"`
	Hot      []Hot         `json:"hot_partitions"`
	DLQ      DLQDepth      `json:"dlq"`
	Failed   []Failed      `json:"recent_failed"`
	LogDirs  []LogDir      `json:"log_dirs"`
	Stale    []Stale       `json:"stale_groups"`
	// NeedsAttention lists the findings that need someone; empty when
	// healthy.
	NeedsAttention []string `json:"needs_attention"`
	// Unsupported lists what the cluster could not answer (e.g. log dirs
	// on the embedded broker).
	Unsupported []string `json:"unsupported,omitempty"`
}

// Group is a consumer group reading pipeline topics.
type Group struct {
	Name       string      `json:"name"`
	State      string      `json:"state"`
	Members    []Member    `json:"members"`
	Partitions []Partition `json:"partitions"`
	// Lag is the total lag at the second sample, LagBefore at the first.
	Lag       int64 `json:"lag"`
	LagBefore int64 `json:"lag_before"`
	// ConsumeRate and ArrivalRate are records per second over the
	// interval (committed-offset and end-offset deltas).
	ConsumeRate float64 `json:"consume_rate"`
	ArrivalRate float64 `json:"arrival_rate"`
	// Trend is "growing", "shrinking" or "steady".
	Trend string `json:"trend"`
	// DrainSeconds estimates the time to drain the lag at the current net
	// rate; -1 when it does not drain (or cannot be told), 0 when no lag.
	DrainSeconds float64 `json:"drain_seconds"`
}

// Member is a group member.
type Member struct {
	MemberID   string             `json:"member_id"`
	ClientID   string             `json:"client_id"`
	Host       string             `json:"host"`
	InstanceID string             `json:"instance_id,omitempty"`
	Assigned   map[string][]int32 `json:"assigned"`
}

// Partition is a group's position on one partition.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Member    string `json:"member,omitempty"` // client id of the member assigned
	Committed int64  `json:"committed"`        // -1: no commit
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	// Rate is records committed per second over the interval.
	Rate float64 `json:"rate"`
}

// Hot is a partition receiving far more than its topic's median.
type Hot struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Rate      float64 `json:"arrival_rate"`
	Median    float64 `json:"median_rate"`
	Records   int64   `json:"records"`
	MedianRec int64   `json:"median_records"`
	Reason    string  `json:"reason"`
}

// DLQDepth counts the dead letters.
type DLQDepth struct {
	Total   int64            `json:"total"`
	ByStage map[string]int64 `json:"by_stage"`
}

// Failed is a recent DocumentFailed.
type Failed struct {
	Time     time.Time `json:"time"`
	Tenant   string    `json:"tenant"`
	Doc      string    `json:"doc"`
	Version  int64     `json:"version"`
	Stage    string    `json:"stage"`
	Class    string    `json:"class"`
	Message  string    `json:"message"`
	Attempts int32     `json:"attempts"`
}

// LogDir is one broker log directory.
type LogDir struct {
	Broker int32  `json:"broker"`
	Dir    string `json:"dir"`
	// DataBytes is the size of the partitions in the directory.
	DataBytes int64 `json:"data_bytes"`
	// TotalBytes and UsableBytes describe the volume; -1 when the broker
	// does not report them.
	TotalBytes  int64   `json:"total_bytes"`
	UsableBytes int64   `json:"usable_bytes"`
	UsedRatio   float64 `json:"used_ratio"` // -1 when unknown
	Err         string  `json:"error,omitempty"`
}

// Stale is a consumer group with no members that holds positions nobody
// needs: they keep the cluster from forgetting it and show as lag.
type Stale struct {
	Group   string `json:"group"`
	Reason  string `json:"reason"`
	Command string `json:"command"`
}
