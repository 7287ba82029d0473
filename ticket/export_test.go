package ticket

// IndexSrc is index.lua, for the benchmarks' bulk loader (package
// ticket_test), which builds years of tickets with the same index code the
// scripts use.
var IndexSrc = indexSrc

// PackTextForBench is packText: the bulk loader stores closed tickets'
// text as the retention run leaves it.
func PackTextForBench(text, quoted string) (string, error) { return packText(text, quoted) }
