package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ: /proc/<pid>/stat counts CPU time in
// it, 100 per second on Linux.
const clockTick = 10 * time.Millisecond

// cpuTime is the user plus system CPU time used so far by process pid
// (0: this process), from /proc; 0 where there is no /proc.
func cpuTime(pid int) time.Duration {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 { // utime and stime are fields 14 and 15, here 11 and 12 (0-based after the name)
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// cpuShare is the CPU time each process of a window used, per answered
// request: where a route's cost goes on a machine the load generator,
// redis-server and the server share. steal is the share of the machine's
// CPU time the hypervisor gave to others during the window (a virtual
// machine's neighbours): windows with much of it are slower for reasons
// outside this machine.
type cpuShare struct {
	server, redis, generator time.Duration
	steal                    float64
}

// machineTimes is the machine's total and stolen CPU time so far, in
// ticks, from /proc/stat's first line.
func machineTimes() (total, steal int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i < 8 { // user nice system idle iowait irq softirq steal (guest time is counted in user)
			total += n
		}
		if i == 7 {
			steal = n
		}
	}
	return total, steal
}

// cpuMeter takes the CPU times of the server under load, redis-server and
// the load generator (this process) at the start and the end of a window.
type cpuMeter struct {
	serverPID, redisPID int
	server, redis, self time.Duration
	total, steal        int64
}

func startCPU(serverPID, redisPID int) cpuMeter {
	m := cpuMeter{serverPID: serverPID, redisPID: redisPID,
		server: cpuTime(serverPID), redis: cpuTime(redisPID), self: cpuTime(0)}
	m.total, m.steal = machineTimes()
	return m
}

// per divides the CPU used since start by n requests.
func (m cpuMeter) per(n int) cpuShare {
	if n == 0 || m.serverPID == 0 {
		return cpuShare{}
	}
	d := time.Duration(n)
	share := cpuShare{
		server:    (cpuTime(m.serverPID) - m.server) / d,
		redis:     (cpuTime(m.redisPID) - m.redis) / d,
		generator: (cpuTime(0) - m.self) / d,
	}
	if total, steal := machineTimes(); total > m.total {
		share.steal = float64(steal-m.steal) / float64(total-m.total)
	}
	return share
}

// peakRSS is the most resident memory process pid has held (VmHWM), in
// bytes; 0 where there is no /proc.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
