;; inmates/resourceful as a component in the component model's text format: it exports
;; the interface `hoosegow:resourceful/counters` with the resource type `counter`.
(component
  (type $counter (resource (rep i32)))
  (instance $counters (export "counter" (type $counter)))
  (export "hoosegow:resourceful/counters" (instance $counters))
)
