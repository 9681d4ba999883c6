package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux the harness targets).
const clockTicks = 100

// proc is a child process whose peak RSS and CPU time are sampled from
// /proc while it runs.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	peakRSS int64   // bytes, VmHWM
	cpu     float64 // seconds, utime+stime
}

// startProc starts bin with args, its output appended to logPath.
func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	go p.sampleLoop()
	return p, nil
}

func (p *proc) sampleLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		p.sample()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

// sample reads VmHWM and utime+stime of the process.
func (p *proc) sample() {
	pid := p.cmd.Process.Pid
	rss, err1 := readHWM(pid)
	cpu, err2 := readCPU(pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err1 == nil {
		p.peakRSS = max(p.peakRSS, rss)
	}
	if err2 == nil {
		p.cpu = max(p.cpu, cpu)
	}
}

// usage returns the peak RSS (bytes) and CPU seconds seen so far.
func (p *proc) usage() (int64, float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakRSS, p.cpu
}

func readHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}

func readCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: fields count from after ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64) // field 14
	st, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return (ut + st) / clockTicks, nil
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	p.sample()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM, waits up to grace, then SIGKILL.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.sample()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		slog.Warn("process did not stop; killing it", "name", p.name)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// buildRagpipe builds the ragpipe binary into dir.
func buildRagpipe(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "ragpipe")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ragpipe")
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building ragpipe: %w", err)
	}
	return bin, nil
}

// buildPC builds the Parallel Consumer baseline (bench/pc) with Maven and
// returns its jar, or "" and why not.
func buildPC(ctx context.Context, repo string) (jar, note string) {
	dir := filepath.Join(repo, "bench", "pc")
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", "Maven (mvn) is not on PATH"
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", "Java is not on PATH"
	}
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q", "package")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		slog.Warn("building bench/pc failed", "err", err, "output", string(out))
		return "", fmt.Sprintf("`mvn -q package` in bench/pc failed: %v", err)
	}
	jar = filepath.Join(dir, "target", "pc-baseline-1.jar")
	if _, err := os.Stat(jar); err != nil {
		return "", "bench/pc built no jar"
	}
	return jar, ""
}
