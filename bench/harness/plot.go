package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// figure names (keys of writeFigures' map).
const (
	figTimeline  = "timeline-"
	figCDF       = "latency-cdf"
	figBaselines = "baselines"
	figEndpoints = "endpoints"
)

// writeFigures writes the figures as PNG into dir and returns their file
// names by figure (timeline-<scenario> for each timeline).
func writeFigures(dir string, results []result) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	figs := map[string]string{}
	save := func(key string, p *plot.Plot, w, h vg.Length) error {
		name := key + ".png"
		if err := p.Save(w, h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("figure %s: %w", name, err)
		}
		figs[key] = name
		return nil
	}
	for _, r := range results {
		if !slices.Contains([]string{"outage", "kill", "kill-static", "scale", "scale-848", "mixed-faults"}, r.sc.Name) || len(r.timeline) == 0 {
			continue
		}
		if err := save(figTimeline+r.sc.Name, timelinePlot(r), 7*vg.Inch, 3*vg.Inch); err != nil {
			return nil, err
		}
	}
	if p := cdfPlot(results); p != nil {
		if err := save(figCDF, p, 7*vg.Inch, 4*vg.Inch); err != nil {
			return nil, err
		}
	}
	for _, g := range []string{"gpu", "hot", "engine"} {
		if p, err := baselinePlot(results, g); err != nil {
			return nil, err
		} else if p != nil {
			if err := save(figBaselines+"-"+g, p, 5.5*vg.Inch, 3.5*vg.Inch); err != nil {
				return nil, err
			}
		}
	}
	if p, err := endpointPlot(results); err != nil {
		return nil, err
	} else if p != nil {
		if err := save(figEndpoints, p, 5*vg.Inch, 3.5*vg.Inch); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

func timelinePlot(r result) *plot.Plot {
	p := plot.New()
	p.Title.Text = r.sc.Title
	p.X.Label.Text = "seconds since the workers started"
	p.Y.Label.Text = "embeddings per minute"
	pts := make(plotter.XYs, len(r.timeline))
	peak := 0.0
	for i, v := range r.timeline {
		pts[i] = plotter.XY{X: float64(i) + 0.5, Y: v * 60}
		peak = max(peak, v*60)
	}
	l, _ := plotter.NewLine(pts)
	l.Color = plotutil.Color(0)
	l.Width = vg.Points(1.5)
	p.Add(l)
	for _, m := range r.marks {
		x := m.At.Seconds()
		ml, _ := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: peak * 1.05}})
		ml.Color = color.RGBA{R: 200, A: 255}
		ml.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(ml)
	}
	if len(r.marks) > 0 {
		labels := map[string]bool{}
		var ls []string
		for _, m := range r.marks {
			if !labels[m.Label] {
				labels[m.Label] = true
				ls = append(ls, m.Label)
			}
		}
		p.Title.Text += " (dashed: " + strings.Join(ls, ", ") + ")"
	}
	if r.sc.Name == "outage" {
		p.Title.Text += " — outage window per gpusim --outage"
	}
	p.Y.Min = 0
	return p
}

func cdfPlot(results []result) *plot.Plot {
	p := plot.New()
	p.Title.Text = "parsed → embedded latency (CDF; log x)"
	p.X.Label.Text = "seconds (log scale)"
	p.Y.Label.Text = "share of chunks"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	n := 0
	for _, r := range results {
		if r.sc.Kind != kindRagpipe || len(r.lats) < 10 {
			continue
		}
		if !slices.Contains([]string{"latency", "gpu-bound", "engine-bound", "mixed-faults", "long-docs", "hot-partition"}, r.sc.Name) {
			continue
		}
		d := slices.Clone(r.lats)
		slices.Sort(d)
		pts := make(plotter.XYs, 0, len(d))
		for i, v := range d {
			pts = append(pts, plotter.XY{X: max(v.Seconds(), 1e-3), Y: float64(i+1) / float64(len(d))})
		}
		l, _ := plotter.NewLine(pts)
		l.Color = plotutil.Color(n)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.sc.Name, l)
		n++
	}
	if n == 0 {
		return nil
	}
	return p
}

// baselinePlot compares ragpipe with the baselines run on one load
// (group). The bare pipe is left out of the figure (its rate dwarfs the
// others; it is in the table).
func baselinePlot(results []result, group string) (*plot.Plot, error) {
	var names []string
	var vals plotter.Values
	for _, r := range results {
		if r.sc.Compare == group && r.sc.Kind != kindPipe && r.err == nil {
			names = append(names, kindLabel(r.sc.Kind))
			vals = append(vals, r.rate*60)
		}
	}
	if len(vals) < 2 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = map[string]string{"gpu": "GPU-bound", "hot": "GPU-bound, hot partition", "engine": "engine-bound"}[group] +
		": ragpipe against the baselines (same run)"
	p.Y.Label.Text = "embeddings per minute"
	b, err := plotter.NewBarChart(vals, vg.Points(30))
	if err != nil {
		return nil, fmt.Errorf("bar chart: %w", err)
	}
	b.Color = plotutil.Color(0)
	p.Add(b)
	p.NominalX(names...)
	p.Y.Min = 0
	return p, nil
}

func kindLabel(k string) string {
	if k == kindPartSeq {
		return "part-seq"
	}
	return k
}

func endpointPlot(results []result) (*plot.Plot, error) {
	var pts, ideal plotter.XYs
	var one float64
	for _, r := range results {
		var n int
		if _, err := fmt.Sscanf(r.sc.Name, "endpoints-%d", &n); err != nil {
			continue
		}
		if n == 1 {
			one = r.rate * 60
		}
		pts = append(pts, plotter.XY{X: float64(n), Y: r.rate * 60})
	}
	if len(pts) == 0 {
		return nil, nil
	}
	for _, q := range pts {
		ideal = append(ideal, plotter.XY{X: q.X, Y: one * q.X})
	}
	p := plot.New()
	p.Title.Text = "throughput against gpusim endpoints (one worker)"
	p.X.Label.Text = "gpusim endpoints"
	p.Y.Label.Text = "embeddings per minute"
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, err
	}
	l.Color, s.Color = plotutil.Color(0), plotutil.Color(0)
	il, err := plotter.NewLine(ideal)
	if err != nil {
		return nil, err
	}
	il.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(l, s, il)
	p.Legend.Add("measured", l, s)
	p.Legend.Add("linear from 1 endpoint", il)
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Min = 0
	return p, nil
}
