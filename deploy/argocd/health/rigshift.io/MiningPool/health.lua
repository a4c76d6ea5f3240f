-- Argo CD health of a rigshift MiningPool: Degraded while its spec is unusable or its yield is unknown (a
-- price source refused or went stale), since the operator then holds every node of the pool where it is.
local hs = { status = "Progressing", message = "Waiting for the rigshift operator to observe the pool" }

local function condition(status, t)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local function detail(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local status = obj.status
if status == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.message = "Waiting for the rigshift operator to observe generation " .. tostring(generation)
  return hs
end

local ready = condition(status, "Ready")
local known = condition(status, "YieldKnown")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = "Not ready: " .. detail(ready)
  return hs
end
if known ~= nil and known.status == "False" then
  hs.status = "Degraded"
  hs.message = "Yield unknown, nodes held: " .. detail(known)
  return hs
end
if ready == nil or known == nil or ready.status ~= "True" or known.status ~= "True" then
  return hs
end

hs.status = "Healthy"
local parts = {}
if status.yields ~= nil then
  for _, y in ipairs(status.yields) do
    table.insert(parts, y.product .. " " .. y.usdPerGpuHour)
  end
end
if #parts > 0 then
  hs.message = "Yield USD/GPU-hour: " .. table.concat(parts, ", ")
else
  hs.message = "Ready"
end
if status.miningNodes ~= nil then
  hs.message = hs.message .. "; mining on " .. tostring(status.miningNodes) .. " node(s)"
end
return hs
