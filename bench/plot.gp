# plot.gp -- one chart of bench/run-bench.sh: a figure against N, log
# scales, one line per contender.  Variables (gnuplot -e):
#   out    the PNG to write          term   "pngcairo" or "png"
#   ttl    the chart's title         ylab   the y axis label
#   col    the column of the .dat files to plot against column 1 (N)
#   files  the .dat files, space separated (one per contender)
#   names  their legend entries, space separated, "_" for a space
#   colors the line colours, space separated ("#rrggbb"), one per file
#   ref, reflabel (optional)  a dashed horizontal line: the target
# Each .dat file: "N wall_ms peak_rss_MiB cpu_ms" per line.
if (term eq "pngcairo") {
    set terminal pngcairo size 900,540 font "sans,11"
} else {
    set terminal png size 900,540
}
set output out
set title ttl
set xlabel "concurrent requests (N)"
set ylabel ylab
set logscale xy
set grid xtics ytics mxtics mytics
set key top left
set format y "%g"
# 1-2-5 tics: a range inside one decade still gets labels.
set ytics (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, \
           10000, 20000, 50000, 100000, 200000, 500000, 1000000)
set format x "%g"
set autoscale yfix
set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08
label(s) = system(sprintf("printf '%%s' '%s' | tr '_' ' '", s))
if (exists("ref")) {
    plot for [i=1:words(files)] word(files, i) using 1:col \
        with linespoints linewidth 2 pointsize 1.3 linecolor rgb word(colors, i) \
        title label(word(names, i)), \
        ref with lines dashtype 2 linewidth 1.5 linecolor rgb "#777777" title reflabel
} else {
    plot for [i=1:words(files)] word(files, i) using 1:col \
        with linespoints linewidth 2 pointsize 1.3 linecolor rgb word(colors, i) \
        title label(word(names, i))
}
