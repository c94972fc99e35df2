-- wrk script: POST a small Pod with a unique name per request (thread id + counter), so the
-- create path (decode, default, validate, commit, cache) runs every time instead of a 409.
-- Usage: wrk -s create_pods.lua http://HOST:PORT/api/v1/namespaces/NS/pods -- PREFIX

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "bench"
  counter = 0
end

function request()
  counter = counter + 1
  local name = string.format("%s-%d-%d", prefix, id, counter)
  local body = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"' .. name ..
    '","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Accept"] = "application/json"}, body)
end
