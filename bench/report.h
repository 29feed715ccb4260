// A run's results: printed as a table for people and as one JSON object
// (one line, starting with '{') for scripts and docs/benchmarks.md.
#pragma once
#include <string>
#include <vector>

struct bench_report {
    struct row {
        std::string key;  // JSON name
        std::string text; // table value
        std::string json; // JSON value
        std::string unit;
    };
    std::string scenario;
    std::vector<row> rows;
};

void bench_report_number(bench_report *r, const char *key, double value, const char *unit, int decimals = 0);
void bench_report_text(bench_report *r, const char *key, const std::string &value);

// The table, then the JSON line, on stdout.
void bench_report_print(const bench_report *r);
