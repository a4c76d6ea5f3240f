-- Argo CD health of the rigshift FleetPolicy: Degraded when the operator refuses it, Healthy once it plans with
-- it (a dry run says so in the message).
local hs = { status = "Progressing", message = "Waiting for the rigshift operator to plan with this policy" }

local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.message = "Waiting for the rigshift operator to observe generation " .. tostring(generation)
  return hs
end

local ready = nil
local dryRun = false
for _, c in ipairs(status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "DryRun" and c.status == "True" then
    dryRun = true
  end
end
if ready == nil then
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = "Not ready: " .. (ready.reason or "") .. ": " .. (ready.message or "")
  return hs
end
if ready.status ~= "True" then
  return hs
end

hs.status = "Healthy"
local m = status.nodesByMode
if m ~= nil then
  hs.message = "Nodes mining " .. tostring(m.mining or 0) .. ", draining " .. tostring(m.draining or 0) ..
    ", training " .. tostring(m.training or 0) .. ", idle " .. tostring(m.idle or 0)
else
  hs.message = "Planning"
end
if dryRun then
  hs.message = "Dry run (plans reported, never carried out); " .. hs.message
end
return hs
