package main

import "fmt"

// didYouMean returns ` (did you mean PREFIXname?)` for the candidate
// closest to typed, when one is close enough to be a typo (at most two
// edits, or a prefix of three or more letters), or "".
func didYouMean(typed string, candidates []string, prefix string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		d := editDistance(typed, c)
		if len(typed) >= 3 && len(typed) < len(c) && c[:len(typed)] == typed {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s%s?)", prefix, best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
