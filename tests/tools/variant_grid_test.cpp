// The values of --vary and the order of a sweep's variants.
#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tools/variant_grid.hpp"

using namespace usher::tools;
using strings = std::vector<std::string>;

TEST_CASE("a range expands exactly in decimal steps and includes its end") {
  CHECK(parse_vary("limit=8..12:2").values == strings{"8", "10", "12"});
  CHECK(parse_vary("limit=3..5").values == strings{"3", "4", "5"});
  CHECK(parse_vary("signals.timeout_rate=0.1..0.3:0.1").values == strings{"0.1", "0.2", "0.3"});
  CHECK(parse_vary("queue.max_wait=10..25:10").values == strings{"10", "20"});
  auto list = parse_vary("tier=solo,team,platform");
  CHECK(list.key == "tier");
  CHECK(list.values == strings{"solo", "team", "platform"});
  CHECK(parse_vary("signals.business_hours=9-17,8-18").values == strings{"9-17", "8-18"});
}

TEST_CASE("a grid numbers variants in nested loop order with the last key fastest") {
  auto grid = make_grid({parse_vary("a=1,2"), parse_vary("b=x,y,z")});
  REQUIRE(grid.size() == 6);
  CHECK(grid[0] == strings{"1", "x"});
  CHECK(grid[1] == strings{"1", "y"});
  CHECK(grid[3] == strings{"2", "x"});
  CHECK(settings_of({parse_vary("a=1,2"), parse_vary("b=x,y,z")}, grid[5]) == strings{"a=2", "b=z"});
}

TEST_CASE("bad --vary values are refused with the key and the reason") {
  using usher::policies::input_error;
  CHECK_THROWS_WITH(parse_vary("limit"), "--vary: expected KEY=V1,V2,... or KEY=LO..HI[:STEP], got \"limit\"");
  CHECK_THROWS_WITH(parse_vary("limit="), "--vary: limit: no values (expected KEY=V1,V2,... or KEY=LO..HI[:STEP])");
  CHECK_THROWS_WITH(parse_vary("limit=1,,3"), "--vary: limit: empty value in \"1,,3\"");
  CHECK_THROWS_WITH(parse_vary("limit=9..3"), "--vary: limit: LO must not exceed HI in LO..HI[:STEP], got \"9..3\"");
  CHECK_THROWS_WITH(parse_vary("limit=1..3:0"), "--vary: limit: STEP must be greater than 0 in LO..HI[:STEP], got \"1..3:0\"");
  CHECK_THROWS_WITH(parse_vary("limit=1..x"),
                    "--vary: limit: expected LO..HI[:STEP] with non-negative decimal numbers, got \"1..x\"");
  CHECK_THROWS_WITH(make_grid({parse_vary("limit=1,2"), parse_vary("limit=3")}),
                    "--vary: limit: varied twice: give all its values in one --vary");
  CHECK_THROWS_AS(make_grid({parse_vary("a=1..1000"), parse_vary("b=1..1000")}), input_error);
}
