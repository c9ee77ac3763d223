// bpmn-js's own texts (palette, context pad, the change-type menu) in Chinese, as its `translate` service:
// the studio is Chinese by default. English pages keep bpmn-js's words.
(function () {
  "use strict";
  var ZH = {
    "Activate hand tool": "抓手工具", "Activate lasso tool": "框选工具",
    "Activate create/remove space tool": "增删空间工具", "Activate global connect tool": "连线工具",
    "Create start event": "创建开始事件", "Create intermediate/boundary event": "创建中间/边界事件",
    "Create end event": "创建结束事件", "Create gateway": "创建网关", "Create task": "创建任务",
    "Create expanded sub-process": "创建子流程", "Create data object reference": "创建数据对象",
    "Create data store reference": "创建数据存储", "Create pool/participant": "创建池", "Create group": "创建分组",
    "Append end event": "追加结束事件", "Append gateway": "追加网关", "Append task": "追加任务",
    "Append intermediate/boundary event": "追加中间事件", "Append receive task": "追加接收任务",
    "Append message intermediate catch event": "追加消息捕获事件", "Append timer intermediate catch event": "追加定时器事件",
    "Append signal intermediate catch event": "追加信号捕获事件", "Append conditional intermediate catch event": "追加条件捕获事件",
    "Append compensation activity": "追加补偿活动", "Change element": "更改类型", "Delete": "删除",
    "Connect to other element": "连接到其他元素", "Connect using association": "用关联连接",
    "Connect using data input association": "用数据输入关联连接", "Add text annotation": "添加注释",
    "Add lane above": "在上方添加泳道", "Add lane below": "在下方添加泳道", "Divide into two lanes": "分为两条泳道",
    "Divide into three lanes": "分为三条泳道", "Align elements": "对齐", "Distribute elements horizontally": "水平均匀分布",
    "Distribute elements vertically": "垂直均匀分布", "Search in diagram": "在图中查找", "Toggle non-interrupting": "切换非中断",
    "Loop": "循环", "Parallel multi-instance": "并行多实例", "Sequential multi-instance": "串行多实例",
    "Open {element}": "打开 {element}",
    "Task": "任务", "User task": "用户任务", "Service task": "服务任务", "Script task": "脚本任务",
    "Business rule task": "业务规则任务", "Send task": "发送任务", "Receive task": "接收任务", "Manual task": "人工任务",
    "Call activity": "调用活动", "Sub-process": "子流程", "Sub-process (collapsed)": "子流程（折叠）",
    "Sub-process (expanded)": "子流程（展开）", "Event sub-process": "事件子流程", "Transaction": "事务",
    "Exclusive gateway": "排他网关", "Parallel gateway": "并行网关", "Inclusive gateway": "包容网关",
    "Event-based gateway": "事件网关", "Complex gateway": "复杂网关",
    "Start event": "开始事件", "End event": "结束事件", "Intermediate throw event": "中间抛出事件",
    "Message start event": "消息开始事件", "Timer start event": "定时器开始事件", "Signal start event": "信号开始事件",
    "Message intermediate catch event": "消息捕获事件", "Message intermediate throw event": "消息抛出事件",
    "Timer intermediate catch event": "定时器捕获事件", "Signal intermediate catch event": "信号捕获事件",
    "Message end event": "消息结束事件", "Terminate end event": "终止结束事件", "Error end event": "错误结束事件",
    "Timer boundary event": "定时器边界事件", "Timer boundary event (non-interrupting)": "定时器边界事件（非中断）",
    "Message boundary event": "消息边界事件", "Message boundary event (non-interrupting)": "消息边界事件（非中断）",
    "Error boundary event": "错误边界事件", "Sequence flow": "顺序流", "Default flow": "默认流", "Conditional flow": "条件流",
    "Data object reference": "数据对象", "Data store reference": "数据存储"
  };

  window.govflowTranslate = function (lang) {
    return function translate(template, replacements) {
      var text = (lang === "zh-CN" && ZH[template]) || template;
      replacements = replacements || {};
      return text.replace(/{([^}]+)}/g, function (_, key) { return replacements[key] !== undefined ? replacements[key] : "{" + key + "}"; });
    };
  };
})();
