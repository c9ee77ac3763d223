"""The demo: a small Shanghai-like org, one official per role, and the process library deployed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.core import Engine
from engine.models import OrgUnit, UserAccount

DEMO_PASSWORD = "govflow-demo"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# code, name, level, parent, kind
ORG_UNITS = [
    ("shanghai", "上海市", "city", None, None),
    ("huangpu", "黄浦区", "district", "shanghai", None),
    ("fengxian", "奉贤区", "district", "shanghai", None),
    ("wuliqiao", "五里桥街道", "subdistrict", "huangpu", None),
    ("nanjingdonglu", "南京东路街道", "subdistrict", "huangpu", None),
    ("zhuanghang", "庄行镇", "township", "fengxian", None),
    ("qiaoyi", "桥一居委会", "committee", "wuliqiao", "residents"),
    ("ruinan", "瑞南居委会", "committee", "wuliqiao", "residents"),
    ("yunnan", "云南居委会", "committee", "nanjingdonglu", "residents"),
    ("xinye", "新叶村村委会", "committee", "zhuanghang", "villagers"),
]

# username, display name, role, org unit
USERS = [
    ("rc_qiaoyi", "王桂芳", "residents_committee", "qiaoyi"),
    ("party_qiaoyi", "李建国", "rc_party_org", "qiaoyi"),
    ("assembly_qiaoyi", "居民代表", "residents_assembly", "qiaoyi"),
    ("supervisor_qiaoyi", "赵秀英", "supervision_committee", "qiaoyi"),
    ("joint_qiaoyi", "联席会议秘书", "joint_meeting", "qiaoyi"),
    ("owners_qiaoyi", "业委会主任", "owners_committee", "qiaoyi"),
    ("rc_ruinan", "陈丽华", "residents_committee", "ruinan"),
    ("rc_yunnan", "周敏", "residents_committee", "yunnan"),
    ("vc_xinye", "沈永明", "villagers_committee", "xinye"),
    ("party_xinye", "沈建华", "rc_party_org", "xinye"),
    ("assembly_xinye", "村民代表", "villagers_assembly", "xinye"),
    ("supervisor_xinye", "沈秀兰", "supervision_committee", "xinye"),
    ("street_wuliqiao", "张伟", "subdistrict_office", "wuliqiao"),
    ("street_wuliqiao2", "刘洋", "subdistrict_office", "wuliqiao"),
    ("center_wuliqiao", "孙静", "acceptance_center", "wuliqiao"),
    ("street_nanjing", "吴磊", "subdistrict_office", "nanjingdonglu"),
    ("town_zhuanghang", "钱志强", "township_government", "zhuanghang"),
    ("civil_huangpu", "郑海燕", "district_civil_affairs", "huangpu"),
    ("gov_huangpu", "黄浦区政府办", "district_government", "huangpu"),
    ("justice_huangpu", "冯律", "district_justice", "huangpu"),
    ("finance_huangpu", "许财", "district_finance", "huangpu"),
    ("dept_huangpu", "区职能部门", "functional_dept", "huangpu"),
    ("civil_fengxian", "奉贤区民政局", "district_civil_affairs", "fengxian"),
    ("gov_fengxian", "奉贤区政府办", "district_government", "fengxian"),
    ("civil_shanghai", "市民政局", "municipal_civil_affairs", "shanghai"),
    ("assess_shanghai", "评估机构", "assessment_agency", "shanghai"),
    ("designer", "流程设计师", "designer", "shanghai"),
    ("auditor", "审计员", "auditor", "shanghai"),
    ("admin", "系统管理员", "admin", "shanghai"),
]


def library_files(root: Path = PROJECT_ROOT) -> dict[str, bytes]:
    """Every file of the process library: bpmn/*.bpmn, bpmn/*.dmn and forms/*.form.json."""
    files: dict[str, bytes] = {}
    for pattern in ("bpmn/*.bpmn", "bpmn/*.dmn", "forms/*.form.json"):
        for path in sorted(root.glob(pattern)):
            files[path.name] = path.read_bytes()
    return files


def load_demo(engine: Engine, root: Path = PROJECT_ROOT) -> dict:
    """Idempotent: units and users that exist are kept; unchanged processes keep their version."""
    with engine.reading() as session:
        have_units = set(session.execute(select(OrgUnit.code)).scalars())
        have_users = set(session.execute(select(UserAccount.username)).scalars())
    for code, name, level, parent, kind in ORG_UNITS:
        if code not in have_units:
            engine.add_org_unit(code, name, level, parent, kind)
    for username, display_name, role, org_code in USERS:
        if username not in have_users:
            engine.add_user(username, DEMO_PASSWORD, [(role, org_code)], display_name)
    files = library_files(root) or library_files(PROJECT_ROOT)  # run from anywhere: the packaged library
    deployed = engine.deploy(files)["processes"] if files else []
    engine.register_existing_committees()  # the legal-person registry starts with the demo committees
    return {
        "org_units": len(ORG_UNITS),
        "users": [{"username": u, "name": n, "role": r, "org_unit": o} for u, n, r, o in USERS],
        "password": DEMO_PASSWORD,
        "processes": deployed,
    }
