"""流程设计: the BPMN modeler in the browser for supervisors."""
