"""Verification of the Xuncha lifecycle diagrams (clue_disposition, rectification).

Helper module for tests/workflows/test_diagrams.py, run by pytest; it needs only SpiffWorkflow, lxml and
jsonschema (no database). A failed check raises CheckError (an AssertionError).

What it checks
  * static: XSD validation (SpiffBpmnParser(validator=VALIDATOR)), process id/name/isExecutable,
    collaboration + participant + laneSet, full BPMNDI (a shape for every flow node, lane and participant,
    an edge for every sequence flow), every exclusive gateway has a default flow and conditions on the
    others, every userTask has the expected lane / Chinese name / form files / dueWorkingDays (read back
    through task_spec.extensions['properties']), every JSON schema is valid draft 2020-12 with title ==
    task name, form field names are unique per diagram, ui:order only names real fields;
  * the lane pitfall: SpiffWorkflow gives tasks inside an embedded subprocess the subprocess's lane when
    the subprocess itself sits in a lane; our diagram keeps the subprocess out of every lane (shown here);
  * negative form cases (conditional requirements, const pledge, minItems, date format, enum);
  * dynamic: every path of both diagrams is driven to its end event; each form_data is validated against
    the task's schema first; every manual task must be a userTask with a lane; the workflow is
    JSON round-tripped through BpmnWorkflowSerializer(SPIFF_CONFIG) after every step and execution
    continues on the deserialized copy; per-instance data of the multi-instance subprocess is isolated.
"""
import copy
import itertools
import json
import os

from jsonschema import Draft202012Validator
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.runtime import SCRIPT_ENGINE  # the functions the shipped diagrams call (deadline_in …)

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'workflows')
FORMS = os.path.join(HERE, 'forms')
NS = {'bpmn': 'http://www.omg.org/spec/BPMN/20100524/MODEL',
      'bpmndi': 'http://www.omg.org/spec/BPMN/20100524/DI',
      'dc': 'http://www.omg.org/spec/DD/20100524/DC',
      'di': 'http://www.omg.org/spec/DD/20100524/DI'}
BPMN = f"{{{NS['bpmn']}}}"   # Clark-notation prefix for BPMN model tags
GROUPS = {'office', 'inspection_group', 'unit', 'receiving_body'}
FLOW_NODE_TAGS = {'startEvent', 'endEvent', 'userTask', 'scriptTask', 'exclusiveGateway', 'parallelGateway',
                  'subProcess', 'task', 'manualTask', 'intermediateCatchEvent', 'intermediateThrowEvent',
                  'boundaryEvent', 'callActivity', 'serviceTask', 'inclusiveGateway'}

# The contract: bpmn_id -> (Chinese name, lane, form base name, dueWorkingDays)
DIAGRAMS = {
    'clue_disposition': {
        'file': 'clue_disposition.bpmn', 'name': '问题线索处置', 'lanes': {'office', 'receiving_body'},
        'tasks': {
            'handover': ('移交', 'office', 'clue_handover', 5),
            'acknowledge': ('签收', 'receiving_body', 'clue_acknowledge', 3),
            'handle_return': ('处理退回', 'office', 'clue_handle_return', 5),
            'dispose': ('处置', 'receiving_body', 'clue_dispose', 10),
            'progress_report': ('办理情况反馈', 'receiving_body', 'clue_progress_report', 22),
            'result_feedback': ('结果反馈', 'receiving_body', 'clue_result_feedback', 66),
            'verify_result': ('核对', 'office', 'clue_verify_result', 5),
        },
    },
    'rectification': {
        'file': 'rectification.bpmn', 'name': '巡察整改', 'lanes': {'office', 'inspection_group', 'unit'},
        'tasks': {
            'receive_feedback': ('反馈', 'unit', 'rect_receive_feedback', 5),
            'draft_plan': ('整改方案', 'unit', 'rect_draft_plan', 22),
            'review_plan': ('审核', 'office', 'rect_review_plan', 10),
            'rectify_item': ('整改', 'unit', 'rect_rectify_item', 10),
            'verify_item': ('核查', 'inspection_group', 'rect_verify_item', 5),
            'strike_off_item': ('销号', 'office', 'rect_strike_off_item', 5),
            'rectification_report': ('整改报告', 'unit', 'rect_report', 44),
            'disclosure': ('整改公开', 'office', 'rect_disclosure', 10),
            'close_out': ('归档', 'office', 'rect_close_out', 5),
            'supervise_plan': ('督办整改方案', 'office', 'rect_supervise', 2),
        },
    },
}
MI_TASKS = {'rectify_item', 'verify_item', 'strike_off_item'}   # inside the multi-instance subprocess

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


class CheckError(AssertionError):
    pass


def need(cond, msg):
    if not cond:
        raise CheckError(msg)


def load_schema(form):
    with open(os.path.join(FORMS, f'{form}.schema.json'), encoding='utf-8') as fh:
        return json.load(fh)


def validator(schema):
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def parse(pid, xml_bytes=None, validate=True):
    parser = SpiffBpmnParser(validator=VALIDATOR if validate else None)
    path = os.path.join(HERE, DIAGRAMS[pid]['file'])
    if xml_bytes is None:
        parser.add_bpmn_file(path)
    else:
        parser.add_bpmn_xml(etree.fromstring(xml_bytes), filename=path)
    return parser.get_spec(pid), parser.get_subprocess_specs(pid)


def all_task_specs(spec, subs):
    for s in [spec, *subs.values()]:
        for ts in s.task_specs.values():
            yield s, ts


# ----------------------------------------------------------------------------------------------- static
def check_static(pid):
    meta = DIAGRAMS[pid]
    path = os.path.join(HERE, meta['file'])
    tree = etree.parse(path)
    root = tree.getroot()

    # process / collaboration / lanes
    procs = root.findall('bpmn:process', NS)
    need(len(procs) == 1, 'exactly one process')
    proc = procs[0]
    need(proc.get('id') == pid and proc.get('name') == meta['name'] and proc.get('isExecutable') == 'true',
         'process id/name/isExecutable')
    parts = root.findall('bpmn:collaboration/bpmn:participant', NS)
    need(len(parts) == 1 and parts[0].get('processRef') == pid, 'one participant referencing the process')
    lanes = proc.findall('bpmn:laneSet/bpmn:lane', NS)
    need({lane_el.get('name') for lane_el in lanes} == meta['lanes'], f"lanes are {meta['lanes']}")

    # BPMNDI completeness
    shapes = {s.get('bpmnElement'): s for s in root.iterfind('.//bpmndi:BPMNShape', NS)}
    edges = {e.get('bpmnElement'): e for e in root.iterfind('.//bpmndi:BPMNEdge', NS)}
    planes = root.findall('.//bpmndi:BPMNPlane', NS)
    need(len(planes) == 1 and planes[0].get('bpmnElement') == root.find('bpmn:collaboration', NS).get('id'),
         'one BPMNPlane on the collaboration')
    ids = {e.get('id') for e in root.iter() if e.get('id')}
    for ref in list(shapes) + list(edges):
        need(ref in ids, f'DI references unknown element {ref}')
    flow_nodes = [e for e in proc.iter() if etree.QName(e).localname in FLOW_NODE_TAGS]
    for e in flow_nodes + lanes + parts:
        need(e.get('id') in shapes, f"no BPMNShape for {e.get('id')}")
        b = shapes[e.get('id')].find('dc:Bounds', NS)
        need(b is not None and float(b.get('width')) > 0 and float(b.get('height')) > 0, f"bad bounds {e.get('id')}")
    flows = list(proc.iter(f'{BPMN}sequenceFlow'))
    for f in flows:
        need(f.get('id') in edges, f"no BPMNEdge for {f.get('id')}")
        need(len(edges[f.get('id')].findall('di:waypoint', NS)) >= 2, f"edge {f.get('id')} needs 2+ waypoints")
    for sp in proc.iter(f'{BPMN}subProcess'):
        need(shapes[sp.get('id')].get('isExpanded') == 'true', 'subprocess shape is expanded')

    # geometry: nodes inside their lane band / the subprocess, edges attached to their nodes, no overlaps
    def box(eid):
        b = shapes[eid].find('dc:Bounds', NS)
        return tuple(float(b.get(k)) for k in ('x', 'y', 'width', 'height'))

    def inside(inner, outer):
        (x, y, w, h), (ox, oy, ow, oh) = inner, outer
        return x >= ox and y >= oy and x + w <= ox + ow and y + h <= oy + oh

    def on_border(pt, b, tol=1.0):
        (px, py), (x, y, w, h) = pt, b
        within = x - tol <= px <= x + w + tol and y - tol <= py <= y + h + tol
        near = min(abs(px - x), abs(px - x - w), abs(py - y), abs(py - y - h)) <= tol
        return within and near if w > 60 else within   # gateways/events: diamond/circle inside the box

    lane_of = {ref.text: lane_el for lane_el in lanes for ref in lane_el.findall('bpmn:flowNodeRef', NS)}
    pool = box(parts[0].get('id'))
    for lane_el in lanes:
        need(inside(box(lane_el.get('id')), pool), f"lane {lane_el.get('name')} outside the pool")
    for e in flow_nodes:
        eid = e.get('id')
        need(inside(box(eid), pool), f'{eid} outside the pool')
        if eid in lane_of:
            _x, y, _w, h = box(eid)
            _lx, ly, _lw, lh = box(lane_of[eid].get('id'))
            need(ly <= y + h / 2 <= ly + lh, f"{eid} is drawn outside its lane {lane_of[eid].get('name')}")
        parent = e.getparent()
        if etree.QName(parent).localname == 'subProcess':
            need(inside(box(eid), box(parent.get('id'))), f'{eid} drawn outside its subprocess')
    for f in flows:
        pts = [(float(w.get('x')), float(w.get('y'))) for w in edges[f.get('id')].findall('di:waypoint', NS)]
        need(on_border(pts[0], box(f.get('sourceRef'))), f"edge {f.get('id')} does not start at its source")
        need(on_border(pts[-1], box(f.get('targetRef'))), f"edge {f.get('id')} does not end at its target")
        for a, b in itertools.pairwise(pts):
            need(a[0] == b[0] or a[1] == b[1], f"edge {f.get('id')} has a diagonal segment")
    # A boundary event sits on its host's border (its centre on the edge), so it overlaps that host only.
    hosts = {e.get('id'): e.get('attachedToRef') for e in proc.iter(f'{BPMN}boundaryEvent')}
    for event, host in hosts.items():
        x, y, w, h = box(event)
        need(on_border((x + w / 2, y + h / 2), box(host)), f'boundary event {event} is not on the border of {host}')
    leaf = [e.get('id') for e in flow_nodes if etree.QName(e).localname != 'subProcess']
    for i, a in enumerate(leaf):
        for b in leaf[i + 1:]:
            if hosts.get(a) == b or hosts.get(b) == a:
                continue
            (x, y, w, h), (bx, by, bw, bh) = box(a), box(b)
            need(x + w <= bx or x >= bx + bw or y + h <= by or y >= by + bh, f'shapes {a} and {b} overlap')

    # exclusive gateways: default + conditions
    flows_by_id = {f.get('id'): f for f in flows}
    for gw in proc.iter(f'{BPMN}exclusiveGateway'):
        outs = [o.text for o in gw.findall('bpmn:outgoing', NS)]
        need(gw.get('default') in outs, f"gateway {gw.get('id')} has a default flow")
        for o in outs:
            if o != gw.get('default'):
                need(flows_by_id[o].find('bpmn:conditionExpression', NS) is not None,
                     f'flow {o} has a condition')

    # parse with XSD validation and inspect the task specs
    spec, subs = parse(pid)
    seen, fields = set(), {}
    for _s, ts in all_task_specs(spec, subs):
        if isinstance(ts, UserTask):
            bid = ts.bpmn_id
            need(bid in meta['tasks'], f'unexpected user task {bid}')
            name, lane, form, days = meta['tasks'][bid]
            seen.add(bid)
            need(ts.bpmn_name == name, f'{bid}: name {ts.bpmn_name!r} != {name!r}')
            need(ts.lane == lane and lane in GROUPS, f'{bid}: lane {ts.lane!r} != {lane!r}')
            props = ts.extensions.get('properties', {})
            need(props.get('formJsonSchemaFilename') == f'{form}.schema.json', f'{bid}: formJsonSchemaFilename')
            need(props.get('formUiSchemaFilename') == f'{form}.uischema.json', f'{bid}: formUiSchemaFilename')
            need(props.get('dueWorkingDays') == str(days), f'{bid}: dueWorkingDays {props.get("dueWorkingDays")}')
            for key in ('formJsonSchemaFilename', 'formUiSchemaFilename'):
                need(os.path.isfile(os.path.join(FORMS, props[key])), f'{bid}: missing {props[key]}')
            schema = load_schema(form)
            Draft202012Validator.check_schema(schema)
            need(schema.get('$schema') == 'https://json-schema.org/draft/2020-12/schema', f'{form}: $schema')
            need(schema.get('title') == name and schema.get('type') == 'object', f'{form}: title/type')
            need(isinstance(schema.get('properties'), dict) and isinstance(schema.get('required'), list),
                 f'{form}: properties/required')
            for r in schema['required']:
                need(r in schema['properties'], f'{form}: required field {r} not a property')
            for fld in schema['properties']:
                need(fld not in fields, f'field {fld} used by both {fields.get(fld)} and {bid}')
                fields[fld] = bid
            with open(os.path.join(FORMS, props['formUiSchemaFilename']), encoding='utf-8') as fh:
                ui = json.load(fh)
            for k in ui.get('ui:order', []):
                need(k == '*' or k in schema['properties'], f'{form}: ui:order names unknown field {k}')
            for k in ui:
                need(k.startswith('ui:') or k in schema['properties'], f'{form}: ui hint for unknown field {k}')
    need(seen == set(meta['tasks']), f'missing user tasks {set(meta["tasks"]) - seen}')
    reserved = {'clue_id', 'clue_number', 'clue_summary', 'receiving_body_name', 'unit_name', 'case_title',
                'items', 'item', 'item_result', 'item_results'}
    need(not (reserved & set(fields)), f'form fields clash with engine data {reserved & set(fields)}')
    return (f'{len(flow_nodes)} flow nodes, {len(flows)} flows, {len(lanes)} lanes, '
            f'{len(seen)} user tasks, {len(fields)} form fields')


def check_lane_pitfall():
    """Show why rectify_items is in no lane: if it were, every inner task would get the subprocess's lane."""
    path = os.path.join(HERE, DIAGRAMS['rectification']['file'])
    root = etree.parse(path).getroot()
    unit = root.find(".//bpmn:lane[@name='unit']", NS)
    ref = etree.SubElement(unit, f'{BPMN}flowNodeRef')
    ref.text = 'rectify_items'
    spec, subs = parse('rectification', etree.tostring(root))
    inner = {ts.bpmn_id: ts.lane for ts in subs['rectify_items'].task_specs.values() if isinstance(ts, UserTask)}
    need(set(inner.values()) == {'unit'}, f'expected inheritance, got {inner}')
    spec, subs = parse('rectification')
    outer = {ts.bpmn_id: ts.lane for s, ts in all_task_specs(spec, subs) if ts.bpmn_id == 'rectify_items'}
    inner_ok = {ts.bpmn_id: ts.lane for ts in subs['rectify_items'].task_specs.values() if isinstance(ts, UserTask)}
    need(inner_ok == {'rectify_item': 'unit', 'verify_item': 'inspection_group', 'strike_off_item': 'office'},
         f'inner lanes {inner_ok}')
    return (f'subprocess in lane unit -> inner lanes {inner}; as shipped (subprocess lane {outer["rectify_items"]})'
            f' -> {inner_ok}')


NEGATIVE = [
    ('clue_acknowledge', {'ack_decision': '退回'}, 'return_reason required when 退回'),
    ('clue_acknowledge', {'ack_decision': '拒收'}, 'ack_decision enum'),
    ('clue_handle_return', {'return_action': '撤销移交'}, 'note required when 撤销移交'),
    ('clue_verify_result', {'verify_decision': '退回补充'}, 'verify_opinion required when 退回补充'),
    ('clue_result_feedback', {'four_forms': '第一种形态', 'result_summary': 'x', 'sanctions': ['警告']},
     'sanctions must be vocabulary values'),
    ('clue_progress_report', {'progress_text': 'x'}, 'handling_finished required'),
    ('rect_draft_plan', {'plan_summary': 'x', 'plan_measures': [], 'pledge_signed': True, 'pledge_signer': 'x'},
     'plan_measures minItems 1'),
    ('rect_draft_plan', {'plan_summary': 'x', 'pledge_signed': False, 'pledge_signer': 'x', 'plan_measures': [
        {'item_number': '1', 'measures': 'm', 'responsible_leader': 'a', 'responsible_department': 'b',
         'responsible_person': 'c', 'due_date': '2025-01-01', 'rectification_type': '限期整改'}]},
     'pledge_signed must be true'),
    ('rect_draft_plan', {'plan_summary': 'x', 'pledge_signed': True, 'pledge_signer': 'x', 'plan_measures': [
        {'item_number': '1', 'measures': 'm', 'responsible_leader': 'a', 'responsible_department': 'b',
         'responsible_person': 'c', 'due_date': '2025-13-40', 'rectification_type': '限期整改'}]},
     'due_date must be a date'),
    ('rect_review_plan', {'plan_decision': '退回修改'}, 'opinion required when 退回修改'),
    ('rect_verify_item', {'item_verify_decision': '驳回'}, 'opinion required when 驳回'),
    ('rect_disclosure', {'publish': True}, 'public_text required when publish'),
    ('rect_disclosure', {'publish': False}, 'exemption_note required when not publishing'),
    ('rect_receive_feedback', {'feedback_received_on': 'yesterday'}, 'date format'),
]


def check_negative():
    for form, data, why in NEGATIVE:
        errors = list(validator(load_schema(form)).iter_errors(data))
        need(errors, f'{form} accepted invalid data ({why})')
    return f'{len(NEGATIVE)} invalid submissions rejected'


# ---------------------------------------------------------------------------------------------- dynamic
def roundtrip(wf):
    dumped = SERIALIZER.serialize_json(wf)
    wf2 = SERIALIZER.deserialize_json(dumped)
    wf2.script_engine = SCRIPT_ENGINE
    # re-serializing gives the same document (key order inside task 'delta' may differ, so compare parsed)
    need(json.loads(SERIALIZER.serialize_json(wf2)) == json.loads(dumped), 'serialization is not stable')
    return wf2


def drive(pid, start_data, answer, expect_end, pick=None, on_task=None, max_steps=200):
    """Run a workflow to completion. answer(task, count) -> form data; count = times this
    bpmn_id (for this item) was already answered. Returns (trace, final data, workflow)."""
    meta = DIAGRAMS[pid]
    spec, subs = parse(pid, validate=False)
    wf = BpmnWorkflow(spec, subs, script_engine=SCRIPT_ENGINE)  # the diagrams' functions (deadline_in …)
    start = wf.get_tasks(state=TaskState.READY)
    need(len(start) == 1, 'one READY start task')
    start[0].data.update(copy.deepcopy(start_data))
    wf.do_engine_steps()
    wf = roundtrip(wf)
    trace, counts = [], {}
    for _ in range(max_steps):
        if wf.is_completed():
            break
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        need(ready, f'stuck: no READY manual task; trace={trace}')
        for t in ready:
            need(isinstance(t.task_spec, UserTask), f'READY manual task {t.task_spec.bpmn_id} is not a userTask')
            need(t.task_spec.lane in meta['lanes'], f'{t.task_spec.bpmn_id} has lane {t.task_spec.lane!r}')
        task = pick(ready) if pick else ready[0]
        bid = task.task_spec.bpmn_id
        _name, lane, form, _days = meta['tasks'][bid]
        need(task.task_spec.lane == lane, f'{bid}: lane {task.task_spec.lane} != {lane}')
        need(task.task_spec.extensions['properties']['formJsonSchemaFilename'] == f'{form}.schema.json',
             f'{bid}: form')
        key = (bid, task.data['item']['item_id']) if bid in MI_TASKS else bid
        data = answer(task, counts.get(key, 0))
        errors = list(validator(load_schema(form)).iter_errors(data))
        need(not errors, f'{bid}: form data invalid: {[e.message for e in errors]}')
        if on_task:
            on_task(task, data)
        task.data.update(copy.deepcopy(data))
        task.run()
        wf.do_engine_steps()
        wf = roundtrip(wf)
        counts[key] = counts.get(key, 0) + 1
        trace.append(f"{bid}[{task.data['item']['number']}]" if bid in MI_TASKS else bid)
    need(wf.is_completed(), f'not completed after {max_steps} steps; trace={trace}')
    top_ends = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)
                if isinstance(t.task_spec, EndEvent) and t.workflow is wf]
    need(top_ends == [expect_end], f'ended at {top_ends}, expected {expect_end}')
    end_task = next(t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == expect_end)
    return trace, end_task.data, wf


# ---- clue_disposition
CLUE_START = {'clue_id': 17, 'clue_number': 'XC-2025-017', 'clue_summary': '反映某局副局长违规收受礼金',
              'receiving_body_name': '市纪委监委'}


def clue_answers(ack=('签收',), ret=(), finished=(True,), verify=('销号',), sanctions=True):
    def answer(task, n):
        bid = task.task_spec.bpmn_id
        if bid == 'handover':
            return {'handover_list': '1. 张某某，某局副局长，反映违规收受礼金，材料3份', 'handover_note': '优先办理'}
        if bid == 'acknowledge':
            d = {'ack_decision': ack[n]}
            if ack[n] == '退回':
                d['return_reason'] = f'第{n + 1}次退回：材料不全'
            return d
        if bid == 'handle_return':
            d = {'return_action': ret[n]}
            if ret[n] == '撤销移交':
                d['return_handling_note'] = '经核不属于移交范围'
            return d
        if bid == 'dispose':
            return {'disposition_method': '初步核实', 'disposition_opinion': '由第三监督检查室初步核实'}
        if bid == 'progress_report':
            return {'progress_text': f'第{n + 1}次办理情况：已谈话了解', 'handling_finished': finished[n]}
        if bid == 'result_feedback':
            d = {'four_forms': '第二种形态', 'result_summary': f'第{n + 1}稿：给予党内警告处分'}
            if sanctions:
                d['sanctions'] = ['党纪处分：警告', '组织处理：调整职务']
            return d
        if bid == 'verify_result':
            d = {'verify_decision': verify[n]}
            if verify[n] == '退回补充':
                d['verify_opinion'] = '请补充处分决定书'
            return d
        raise CheckError(f'unexpected task {bid}')
    return answer


# ---- rectification
def rect_start(n):
    return {'unit_name': '市某局', 'case_title': '2025年第一轮巡察整改',
            'items': [{'item_id': 100 + i, 'number': f'{i + 1}', 'problem': f'问题{i + 1}：落实主体责任不到位'}
                      for i in range(n)]}


def rect_answers(plan=('通过',), item_plan=None, publish=True, state=None):
    """item_plan: item_id -> list of verify decisions, e.g. {101: ['驳回', '通过']}."""
    item_plan = item_plan or {}
    completion = ['已完成', '基本完成', '未完成']

    def answer(task, n):
        bid = task.task_spec.bpmn_id
        d = task.data
        if bid == 'receive_feedback':
            return {'feedback_received_on': '2025-03-03', 'feedback_meeting_note': '召开反馈会，书记和班子成员参加'}
        if bid == 'draft_plan':
            return {'plan_summary': f'整改方案第{n + 1}稿',
                    'plan_measures': [{'item_number': it['number'], 'measures': f'针对问题{it["number"]}的措施',
                                       'responsible_leader': '李书记', 'responsible_department': '办公室',
                                       'responsible_person': '王主任', 'due_date': '2025-05-01',
                                       'rectification_type': '限期整改'} for it in d['items']],
                    'pledge_signed': True, 'pledge_signer': '李某某'}
        if bid == 'review_plan':
            r = {'plan_decision': plan[n]}
            if plan[n] == '退回修改':
                r['plan_review_opinion'] = '措施不具体，请细化'
            return r
        iid = d['item']['item_id'] if bid in MI_TASKS else None
        if bid == 'rectify_item':
            return {'item_progress': f'item {iid} round {n + 1}',
                    'item_completion': completion[(iid + n) % 2],   # differs between items
                    'evidence_note': f'佐证 {iid}-{n + 1}'}
        if bid == 'verify_item':
            decision = item_plan.get(iid, ['通过'] * (n + 1))[n]
            r = {'item_verify_decision': decision}
            if decision == '驳回':
                r['item_verify_opinion'] = f'item {iid} 佐证不足'
            return r
        if bid == 'strike_off_item':
            return {'strike_off_date': f'2025-04-{10 + iid % 20:02d}', 'strike_off_note': f'销号 {iid}'}
        if bid == 'rectification_report':
            if state is not None:
                state['data_after_mi'] = dict(d)
            return {'report_summary': '全部问题整改到位', 'report_date': '2025-05-03'}
        if bid == 'disclosure':
            return ({'publish': True, 'public_text': '关于巡察整改进展情况的通报……'} if publish
                    else {'publish': False, 'exemption_note': '涉及在查案件，暂不公开'})
        if bid == 'close_out':
            return {'archive_note': '已立卷归档'}
        raise CheckError(f'unexpected task {bid}')
    return answer


def isolation_checker(n_items):
    """Every instance task must see its own item and only its own earlier answers."""
    own = {}        # item_id -> {field: value} answered inside that instance
    item_fields = set()
    for f in ('rect_rectify_item', 'rect_verify_item', 'rect_strike_off_item'):
        item_fields |= set(load_schema(f)['properties'])
    seen_parallel = []

    def on_task(task, data):
        bid = task.task_spec.bpmn_id
        if bid == 'rectify_item' and not own:
            siblings = [t for t in task.workflow.top_workflow.get_tasks(state=TaskState.READY, manual=True)
                        if t.task_spec.bpmn_id == 'rectify_item']
            seen_parallel.append(len(siblings))
        if bid not in MI_TASKS:
            for f in item_fields:
                need(f not in task.data, f'{bid} sees instance field {f}')
            return
        item = task.data['item']
        need(set(item) == {'item_id', 'number', 'problem'}, f'item is {item}')
        mine = own.setdefault(item['item_id'], {})
        for f in item_fields:
            if f in mine:
                need(task.data.get(f) == mine[f],
                     f'{bid}[{item["number"]}]: {f}={task.data.get(f)!r}, own={mine[f]!r}')
            else:
                need(f not in task.data, f'{bid}[{item["number"]}] sees foreign {f}={task.data.get(f)!r}')
        mine.update(data)
    return on_task, own, seen_parallel


def make_interleave():
    """Pick READY instance tasks round-robin over the items, so that instances interleave."""
    last = [None]

    def pick(ready):
        mi = sorted((t for t in ready if t.task_spec.bpmn_id in MI_TASKS), key=lambda t: t.data['item']['item_id'])
        if not mi:
            return ready[0]
        later = [t for t in mi if last[0] is None or t.data['item']['item_id'] > last[0]]
        task = (later or mi)[0]
        last[0] = task.data['item']['item_id']
        return task
    return pick


def run_rect(label, n_items, **kw):
    state = {}
    on_task, own, parallel = isolation_checker(n_items)
    trace, _final, _wf = drive('rectification', rect_start(n_items), rect_answers(state=state, **kw),
                             'end_rectification', pick=make_interleave(), on_task=on_task)
    need(parallel and parallel[0] == n_items, f'expected {n_items} parallel rectify_item tasks, saw {parallel}')
    results = state['data_after_mi']['item_results']
    need(sorted(r['item_id'] for r in results) == [100 + i for i in range(n_items)], f'item_results {results}')
    for r in results:
        need(r['item_completion'] == own[r['item_id']]['item_completion'] and
             r['strike_off_date'] == own[r['item_id']]['strike_off_date'], f'item_result mismatch {r}')
    instance_keys = set().union(*[set(v) for v in own.values()]) | {'item', 'item_result'}
    leaked = sorted(set(state['data_after_mi']) & instance_keys)
    need(not leaked, f'instance keys leaked into parent data: {leaked}')
    return trace, state


def scenarios():
    yield ('clue_disposition: 签收→处置→反馈→结果→销号', lambda: drive(
        'clue_disposition', CLUE_START, clue_answers(), 'end_closed')[0])
    yield ('clue_disposition: 退回→重新移交→签收, 反馈×2, 退回补充→销号', lambda: drive(
        'clue_disposition', CLUE_START,
        clue_answers(ack=('退回', '签收'), ret=('重新移交',), finished=(False, True), verify=('退回补充', '销号')),
        'end_closed')[0])
    yield ('clue_disposition: 退回×2 (重新移交 then 撤销移交)', lambda: drive(
        'clue_disposition', CLUE_START, clue_answers(ack=('退回', '退回'), ret=('重新移交', '撤销移交')),
        'end_withdrawn')[0])
    yield ('clue_disposition: only start data, no sanctions', lambda: drive(
        'clue_disposition', CLUE_START, clue_answers(sanctions=False), 'end_closed')[0])
    yield ('rectification: 2 items, item 2 驳回 once, publish', lambda: run_rect(
        '2 items', 2, item_plan={101: ['驳回', '通过']})[0])
    yield ('rectification: 方案退回修改 once, 1 item, not published', lambda: run_rect(
        '1 item', 1, plan=('退回修改', '通过'), publish=False)[0])
    yield ('rectification: 3 items, items 1 and 3 驳回 (item 3 twice)', lambda: run_rect(
        '3 items', 3, item_plan={100: ['驳回', '通过'], 102: ['驳回', '驳回', '通过']})[0])
