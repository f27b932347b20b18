;; The core module of inmates/hostile-tables, against the canonical ABI of its world:
;; `grow-table: func(by: u32, steps: u32) -> u32` is a core function (i32, i32) -> i32.
(module
  (table $table 1 funcref)
  (func (export "grow-table") (param $by i32) (param $steps i32) (result i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $steps)))
        ;; table.grow answers -1 when the engine refuses without trapping.
        (if (i32.eq (table.grow $table (ref.null func) (local.get $by)) (i32.const -1))
          (then (return (i32.const -1))))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $again)))
    (table.size $table))
)
