// Faults says what a process's page faults were for: which part of the
// binary (code, read-only data, function tables, data) or anonymous memory,
// and which phase of the program first touched it (the runtime, a package
// initialiser, main). It reads `perf script` output of a page-fault
// recording with call chains:
//
//	perf record -e page-faults -c 1 -d -g -o /tmp/pf.data -- /tmp/keystile serve --config k.yaml
//	# … one request, wait, stop the server …
//	perf script -i /tmp/pf.data -F addr,ip,sym | go run ./tools/faults -our github.com/keystile/keystile /tmp/keystile
//
// A read fault on a file page maps the 64 KiB around it (the kernel's
// fault-around), so each fault in the binary's read-only sections counts
// 64 KiB and is the first touch of that window; faults elsewhere count one
// 4 KiB page. The sums are what each phase made resident, to within the
// windows at the ends of sections.
package main

import (
	"bufio"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	our := flag.String("our", "", "import path prefix of the program's own packages (main is always ours)")
	top := flag.Int("top", 15, "rows of the per-package list")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: perf script -F addr,ip,sym | faults [-our PREFIX] BINARY")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *our, *top); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

var initFunc = regexp.MustCompile(`^(.+)\.init(\.\d+)?$`)

func run(path, our string, top int) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	section := func(addr uint64) *elf.Section {
		for _, s := range f.Sections {
			if s.Addr != 0 && s.Type != elf.SHT_NOBITS && addr >= s.Addr && addr < s.Addr+s.Size {
				return s
			}
		}
		return nil
	}
	kb := map[[2]string]int{}  // {phase, kind} → kB
	byInit := map[string]int{} // package whose initialiser touched a window → kB
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var block []string
	flush := func() {
		if len(block) == 0 {
			return
		}
		phase, pkg, kind, size := classify(block, section, our)
		kb[[2]string{phase, kind}] += size
		if pkg != "" && kind == "binary, shared" {
			byInit[pkg] += size
		}
		block = block[:0]
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		block = append(block, line)
	}
	flush()
	if err := sc.Err(); err != nil {
		return err
	}
	keys := make([][2]string, 0, len(kb))
	for k := range kb {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	fmt.Printf("%8s  %-34s %s\n", "kB", "first touched by", "what")
	for _, k := range keys {
		fmt.Printf("%8d  %-34s %s\n", kb[k], k[0], k[1])
	}
	pkgs := make([]string, 0, len(byInit))
	for p := range byInit {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		return byInit[pkgs[i]] > byInit[pkgs[j]] || byInit[pkgs[i]] == byInit[pkgs[j]] && pkgs[i] < pkgs[j]
	})
	fmt.Printf("\nbinary windows first touched by package initialisers (%d packages):\n", len(pkgs))
	for i, p := range pkgs {
		if i == top {
			break
		}
		fmt.Printf("%8d  %s\n", byInit[p], p)
	}
	return nil
}

// classify reads one sample: its first line is the faulting address, the
// others the call chain, innermost first.
func classify(block []string, section func(uint64) *elf.Section, our string) (phase, pkg, kind string, kb int) {
	addr, err := strconv.ParseUint(strings.Fields(block[0])[0], 16, 64)
	if err != nil {
		return "unreadable sample", "", "", 0
	}
	kind, kb = "anonymous or another file", 4
	if s := section(addr); s != nil {
		kind = "binary, private (data)"
		if s.Flags&elf.SHF_WRITE == 0 {
			kind, kb = "binary, shared", 64
		}
	}
	var frames []string
	for _, l := range block[1:] {
		if _, name, ok := strings.Cut(l, " "); ok {
			frames = append(frames, strings.TrimSpace(name))
		}
	}
	ours := func(p string) bool { return p == "main" || our != "" && strings.HasPrefix(p, our) }
	for i := len(frames) - 1; i >= 0; i-- { // outermost first
		if frames[i] == "main.main" {
			return "main (after the initialisers)", "", kind, kb
		}
		if m := initFunc.FindStringSubmatch(frames[i]); m != nil && !strings.HasPrefix(frames[i], "runtime.") {
			if ours(m[1]) {
				return "our package initialisers", m[1], kind, kb
			}
			return "other package initialisers", m[1], kind, kb
		}
	}
	return "runtime, GC, loader", "", kind, kb
}
