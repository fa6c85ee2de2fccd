import t from "tap";
import { check, HistoryError, registerModel, validateHistory } from "../../lab/lincheck/index.js";
import { get, put } from "../../lab/lincheck/register_history.js";
import type { RegisterOperation } from "../../lab/lincheck/register_model.js";

t.test("a history with touching and indeterminate operations is accepted", async (t) => {
  const history = [
    put(1, [0, 10], "x", "a"),
    get(1, [10, 20], "x", "a"), // starts the tick the previous one returned: allowed
    put(2, [5, Infinity], "x", "b"),
    get(3, [30, 30], "x", "a"),
  ];
  t.doesNotThrow(() => validateHistory(history));
});

t.test("an operation that returns before its call is rejected", async (t) => {
  const history = [put(1, [0, 10], "x", "a"), { ...put(2, [20, 30], "x", "b"), return: 15 }];
  const expected = new HistoryError("operation #1 (client 2): call 20 is after return 15");
  t.throws(() => validateHistory(history), expected);
});

t.test("a client with two operations in flight is rejected, naming both", async (t) => {
  const history = [put(7, [0, 10], "x", "a"), get(7, [5, 20], "x", "a")];
  t.throws(() => validateHistory(history), {
    name: "HistoryError",
    message: /client 7 has overlapping operations #0 \[0, 10\] and #1 \[5, 20\]/,
  });
});

t.test("a client that continues after an indeterminate operation is rejected", async (t) => {
  const history = [put(7, [0, Infinity], "x", "a"), get(7, [50, 60], "x", "a")];
  t.throws(() => validateHistory(history), { message: /new clientId after an indeterminate one/ });
});

t.test("a determinate operation without output is rejected", async (t) => {
  const history: RegisterOperation[] = [{ ...put(1, [0, 10], "x", "a"), output: undefined }];
  t.throws(() => validateHistory(history), { message: /output is undefined but return is 10/ });
});

t.test("an indeterminate operation with an output is rejected", async (t) => {
  const history: RegisterOperation[] = [{ ...put(1, [0, 10], "x", "a"), return: Infinity }];
  t.throws(() => validateHistory(history), { message: /indeterminate operation .* has no output/ });
});

t.test("times that are not numbers are rejected", async (t) => {
  t.throws(() => validateHistory([{ ...put(1, [0, 10], "x", "a"), call: NaN }]), {
    message: /call must be a finite number, got NaN/,
  });
  t.throws(() => validateHistory([{ ...put(1, [0, 10], "x", "a"), return: NaN }]), {
    message: /return must be a number or Infinity, got NaN/,
  });
  t.throws(() => validateHistory([{ ...put(1.5, [0, 10], "x", "a") }]), {
    message: /clientId must be an integer/,
  });
});

t.test("check() validates before searching", async (t) => {
  const history = [put(7, [0, 10], "x", "a"), get(7, [5, 20], "x", "a")];
  t.throws(() => check(registerModel, history), HistoryError);
});
