-- Argo CD health of a rigshift TrainingJob, from the conditions the operator writes (never from spec alone).
local hs = { status = "Progressing", message = "Waiting for the rigshift operator to observe the job" }

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

local function isTrue(status, t)
  local c = condition(status, t)
  return c ~= nil and c.status == "True"
end

local function detail(c)
  if c == nil then
    return ""
  end
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

if isTrue(status, "Failed") then
  hs.status = "Degraded"
  hs.message = "Failed: " .. detail(condition(status, "Failed"))
  return hs
end
if isTrue(status, "Succeeded") then
  hs.status = "Healthy"
  hs.message = "Succeeded"
  if status.gpuHours ~= nil then
    hs.message = hs.message .. " after " .. status.gpuHours .. " GPU-hours"
  end
  if status.earnedUsd ~= nil then
    hs.message = hs.message .. ", earned " .. status.earnedUsd .. " USD"
  end
  return hs
end
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended (spec.suspend is true)"
  return hs
end
if isTrue(status, "Running") then
  hs.status = "Healthy"
  local nodes = 0
  if status.assignedNodes ~= nil then
    nodes = #status.assignedNodes
  end
  hs.message = "Running on " .. tostring(nodes) .. " node(s)"
  return hs
end
if isTrue(status, "Preempted") then
  hs.message = "Preempted, waiting to run again: " .. detail(condition(status, "Preempted"))
  return hs
end
if isTrue(status, "Admitted") then
  hs.message = "Admitted: nodes are switching to training"
  return hs
end
if isTrue(status, "Queued") then
  hs.message = "Queued"
  if status.waitingReason ~= nil and status.waitingReason ~= "" then
    hs.message = hs.message .. ": " .. status.waitingReason
  end
  return hs
end
return hs
