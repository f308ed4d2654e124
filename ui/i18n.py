"""Interface strings: zh-CN by default, English selectable (a cookie, no account needed)."""

from __future__ import annotations

LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"

STRINGS: dict[str, tuple[str, str]] = {
    "app": ("卷宗工作站", "Dossier station"),
    "batches": ("批次", "Batches"),
    "scan": ("扫描", "Scan"),
    "check": ("质检", "Check"),
    "catalogue": ("编目", "Catalogue"),
    "build": ("生成卷宗", "Build"),
    "sign": ("签名", "Sign"),
    "queues": ("队列", "Queues"),
    "verify": ("验证", "Verify"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码不正确", "Wrong user name or password"),
    "new_scan": ("新建扫描", "New scan"),
    "scanner": ("扫描仪", "Scanner"),
    "preset": ("扫描方案", "Preset"),
    "dpi": ("分辨率 (dpi)", "Resolution (dpi)"),
    "mode": ("色彩", "Colour"),
    "source": ("进纸", "Source"),
    "start": ("开始", "Start"),
    "resume": ("继续扫描", "Resume"),
    "pages": ("页", "pages"),
    "page_count": ("已扫描", "Scanned"),
    "feeder": ("进纸器", "Feeder"),
    "state_running": ("正在扫描…", "scanning…"),
    "state_done": ("完成", "done"),
    "state_fault": ("故障", "fault"),
    "state_error": ("错误", "error"),
    "state_idle": ("空闲", "idle"),
    "upload": ("上传图像", "Upload images"),
    "upload_go": ("上传", "Upload"),
    "no_batches": ("还没有批次", "No batches yet"),
    "flagged_only": ("只看有标记的", "Flagged only"),
    "rotate": ("旋转 (R)", "Rotate (R)"),
    "aside": ("移出 (Del)", "Move aside (Del)"),
    "restore": ("放回", "Bring back"),
    "blank": ("空白 (B)", "Blank (B)"),
    "notblank": ("非空白", "Not blank"),
    "split": ("从此页分件", "Split here"),
    "join": ("与上一件合并", "Join with previous"),
    "rescan": ("重扫此页", "Re-scan page"),
    "open": ("打开 (Enter)", "Open (Enter)"),
    "keys_help": ("方向键选择 · R 旋转 · Delete 移出 · B 空白 · Enter 打开 · 拖动排序",
                  "Arrows select · R rotate · Delete aside · B blank · Enter open · drag to reorder"),
    "role_page": ("正文", "page"),
    "role_blank": ("空白", "blank"),
    "role_aside": ("已移出", "aside"),
    "role_separator": ("分隔页", "separator"),
    "doc": ("件", "doc"),
    "case_fields": ("案卷信息", "Case"),
    "rows": ("卷内目录", "Catalogue rows"),
    "save": ("保存", "Save"),
    "saved": ("已保存 case.toml", "case.toml saved"),
    "first_image": ("起始图像", "First image"),
    "page_no": ("页号", "Pages"),
    "images": ("图像数", "Images"),
    "drop_here": ("把页拖到目录行上以指定起始页", "Drag a page onto a row to start the row there"),
    "engine": ("识别引擎", "OCR engine"),
    "build_go": ("开始生成", "Build"),
    "progress": ("进度", "Progress"),
    "volumes": ("卷宗文件", "Volumes"),
    "qc": ("检查项", "Quality checks"),
    "custody_entries": ("保管链记录", "Custody entries"),
    "no_text": ("先生成卷宗，才能看到识别文字", "Build the dossier to see the recognised text"),
    "text_layer": ("识别文字", "Recognised text"),
    "back": ("返回", "Back"),
    "operator": ("操作员", "Operator"),
    "fault_hint": ("排除故障后按“继续扫描”", "Clear the fault, then press Resume"),
    "not_present": ("此功能尚未安装", "This part of the station is not installed yet"),
    "writing": ("正在写入卷宗…", "writing volumes…"),
    "none": ("无", "none"),
    "verify_hint": ("拖入卷宗 PDF：签名、时间戳、PDF/A 与保管链逐项检查", "Drop a dossier PDF: signatures, timestamps, PDF/A and custody, check by check"),
    "trust_root": ("信任根证书（可选）", "Trusted root certificate (optional)"),
    "valid": ("有效", "VALID"),
    "not_valid": ("无效", "NOT VALID"),
    "verify_this": ("验证", "verify"),
    "daemon": ("监视进程", "Daemon"),
    "waiting": ("等待", "Waiting"),
    "in_progress": ("处理中", "In progress"),
    "failed": ("失败", "Failed"),
    "retry": ("重试", "Retry"),
    "requeued": ("已放回监视文件夹", "put back into the hot folder"),
    "PDF/A": ("PDF/A 长期保存格式", "PDF/A"),
    "trust": ("信任根", "trust"),
    "file": ("文件", "file"),
    "custody": ("保管链", "custody"),
    "journal": ("工作站日志", "journal"),
    "note": ("说明", "note"),
    "signature": ("签名", "signature"),
    "document timestamp": ("文档时间戳", "document timestamp"),
    "biometrics": ("生物特征", "biometrics"),
}


def translator(lang: str):  # type: ignore[no-untyped-def]
    i = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = STRINGS.get(key)
        return pair[i] if pair else key

    return t


def pick(value: str | None) -> str:
    return value if value in LANGS else DEFAULT
