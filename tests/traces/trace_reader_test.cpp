// The trace reader: columns by name in any order, optional columns, labels.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "policies/input_error.hpp"
#include "traces/trace_reader.hpp"

using namespace usher;
using namespace usher::policies;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("trace columns are found by name in any order and extra columns are ignored") {
  auto path = write_temp("usher-reader-order.csv",
                         "duration_s,notes,account,arrival_s,model,cost,id\n"
                         "2.5,\"hello, world\",acme,0.25,big,3,r1\n"
                         "1,,beta,1,,,r2\n");
  auto p = plan::build("weighted", {{"cost.big", "4", "t"}});
  traces::trace_reader reader(path, p);
  std::vector<arrival> rows;
  std::string error;
  REQUIRE(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at == 250'000);
  CHECK(rows[0].duration == 2'500'000);
  CHECK(rows[0].req.cost == 3);  // the trace's own cost wins over the table
  CHECK(reader.models().name(rows[0].req.model) == "big");
  CHECK(rows[1].req.model == no_id);
  CHECK(rows[1].req.cost == 1);  // no model, no cost: the default
  CHECK(rows[1].req.seq == 1);
  CHECK(reader.accounts().name(rows[1].req.account) == "beta");
  auto label = reader.take_label();
  CHECK(label.id == "r1");
  CHECK(reader.take_label().id == "r2");
  rows.clear();
  REQUIRE(reader.read(rows, 10, error));
  CHECK(rows.empty());  // the end
}

TEST_CASE("cost_source=plan ignores the trace's own cost") {
  auto path = write_temp("usher-reader-plan-cost.csv", "arrival_s,account,duration_s,model,cost\n0,a,1,big,3\n");
  auto p = plan::build("weighted", {{"cost.big", "4", "t"}, {"cost_source", "plan", "t"}});
  traces::trace_reader reader(path, p);
  std::vector<arrival> rows;
  std::string error;
  REQUIRE(reader.read(rows, 10, error));
  CHECK(rows[0].req.cost == 4);
}

TEST_CASE("kinds, connections and failure flags are read") {
  auto path = write_temp("usher-reader-kinds.csv",
                         "arrival_s,account,duration_s,kind,conn,fail\n"
                         "0,a,10,ws_open,c1,\n0,a,1,ws_request,c1,1\n1,a,0,ws_close,c1,0\n2,a,5,session,,\n");
  traces::trace_reader reader(path, plan::build("exclusive", {}));
  std::vector<arrival> rows;
  std::string error;
  REQUIRE(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].req.what == kind::ws_open);
  CHECK(rows[1].req.what == kind::ws_request);
  CHECK(rows[1].fail);
  CHECK(rows[1].req.conn == rows[0].req.conn);
  CHECK(rows[2].req.what == kind::ws_close);
  CHECK(rows[3].req.what == kind::session);
}

TEST_CASE("a bad row stops reading with the file, line and column, and earlier rows stay read") {
  auto path = write_temp("usher-reader-bad.csv", "arrival_s,account,duration_s,kind\n0,a,1,\n1,a,1,teleport\n");
  traces::trace_reader reader(path, plan::build("streams", {}));
  std::vector<arrival> rows;
  std::string error;
  CHECK_FALSE(reader.read(rows, 10, error));
  CHECK(rows.size() == 1);
  CHECK(error == path + ":3: column 'kind': expected request, ws_open, ws_request, ws_close or session, got \"teleport\"");
}

TEST_CASE("a row's priority is read: empty asks for none, anything but 0 to 1000 is refused") {
  auto path = write_temp("usher-reader-priority.csv",
                         "arrival_s,account,duration_s,priority\n0,a,1,3\n1,a,1,\n2,a,1,1000\n3,a,1,1001\n");
  traces::trace_reader reader(path, plan::build("per-model", {}));
  std::vector<arrival> rows;
  std::string error;
  CHECK_FALSE(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].req.priority == 3);
  CHECK(rows[1].req.priority == -1);
  CHECK(rows[2].req.priority == 1000);
  CHECK(error == path + ":5: column 'priority': expected an integer from 0 to 1000 (or empty: the "
                        "account's priority), got \"1001\"");
  for (auto bad : {"-1", "high", "2.5"}) {
    auto p2 = write_temp("usher-reader-priority-bad.csv",
                         std::string("arrival_s,account,duration_s,priority\n0,a,1,") + bad + "\n");
    traces::trace_reader r2(p2, plan::build("per-model", {}));
    std::vector<arrival> none;
    CHECK_FALSE(r2.read(none, 10, error));
    CHECK(error.find(p2 + ":2: column 'priority'") == 0);
  }
}

TEST_CASE("an arrival or a duration too large to add up is refused with its line") {
  // 9e12 s + 9e12 s in microseconds passes 2^63: once read, its end time
  // overflowed (UBSan) and printed a negative end_s.
  for (auto row : {std::string("9000000000000,a,1"), std::string("1,a,9000000000000")}) {
    INFO(row);
    auto path = write_temp("usher-reader-huge.csv", "arrival_s,account,duration_s\n0,a,1\n" + row + "\n");
    traces::trace_reader reader(path, plan::build("streams", {}));
    std::vector<arrival> rows;
    std::string error;
    CHECK_FALSE(reader.read(rows, 10, error));
    CHECK(rows.size() == 1);
    CHECK(error.find(path + ":3: column '") == 0);
    CHECK(error.find("expected at most 1000000000000 seconds, got \"9000000000000\"") != std::string::npos);
  }
  // The longest time itself is read.
  auto path = write_temp("usher-reader-longest.csv", "arrival_s,account,duration_s\n1000000000000,a,1000000000000\n");
  traces::trace_reader reader(path, plan::build("streams", {}));
  std::vector<arrival> rows;
  std::string error;
  CHECK(reader.read(rows, 10, error));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at + rows[0].duration == 2 * longest_time);
}

TEST_CASE("a trace without the required columns is refused at open") {
  auto path = write_temp("usher-reader-header.csv", "arrival,account,duration_s\n0,a,1\n");
  CHECK_THROWS_AS(traces::trace_reader(path, plan::build("streams", {})), input_error);
}

TEST_CASE("a plain trace's first and last arrivals are read from its two ends alone") {
  // Columns in any order, quoted fields, CRLF, blank lines at the end, and
  // (at 5,000 rows) more than the 64 KiB read at each end.
  for (int rows : {3, 5000}) {
    std::string text = "id,account,duration_s,arrival_s\r\n";
    for (int i = 0; i < rows; ++i)
      text += "r" + std::to_string(i) + ",\"acct, " + std::to_string(i % 7) + "\",1.5," +
              std::to_string(1'700'000'000 + i) + ".25\r\n";
    auto span = traces::arrival_span(write_temp("usher-span-a.csv", text + "\r\n\n"));
    REQUIRE(span);
    CHECK(span->first == seconds(1'700'000'000) + usec{250000});
    CHECK(span->second == seconds(1'700'000'000 + rows - 1) + usec{250000});
  }
  auto one = traces::arrival_span(write_temp("usher-span-b.csv", "arrival_s,account,duration_s\n3.5,a,1"));
  REQUIRE(one);  // one row, no line break at its end
  CHECK(one->first == usec{3500000});
  CHECK(one->second == usec{3500000});
  // Nothing where nothing can be known at once.
  CHECK_FALSE(traces::arrival_span(write_temp("usher-span-c.csv", "arrival_s,account,duration_s\n")));
  CHECK_FALSE(traces::arrival_span(write_temp("usher-span-d.csv", "arrival_s,account,duration_s\nsoon,a,1\n")));
  CHECK_FALSE(traces::arrival_span("-"));
  CHECK_FALSE(traces::arrival_span("/no/such/trace.csv"));
  CHECK_FALSE(traces::arrival_span(write_temp("usher-span-e.csv.gz", "\x1f\x8b\x08 binary")));
}
