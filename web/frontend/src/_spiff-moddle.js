// The spiffworkflow extension namespace as the shipped diagrams use it (workflows/*.bpmn), so that
// bpmn-js reads and writes these elements instead of dropping them:
//   <bpmn:extensionElements>
//     <spiffworkflow:properties><spiffworkflow:property name="…" value="…" /></spiffworkflow:properties>
//     <spiffworkflow:instructionsForEndUser>…</spiffworkflow:instructionsForEndUser>
//   </bpmn:extensionElements>
export default {
  name: "SpiffWorkflow",
  uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
  prefix: "spiffworkflow",
  xml: { tagAlias: "lowerCase" },
  associations: [],
  types: [
    {
      name: "Properties",
      superClass: ["Element"],
      properties: [{ name: "properties", type: "Property", isMany: true }],
    },
    {
      name: "Property",
      superClass: ["Element"],
      properties: [
        { name: "name", type: "String", isAttr: true },
        { name: "value", type: "String", isAttr: true },
      ],
    },
    {
      name: "InstructionsForEndUser",
      superClass: ["Element"],
      properties: [{ name: "text", type: "String", isBody: true }],
    },
  ],
};
