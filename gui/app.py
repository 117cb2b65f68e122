"""The PyRTC window: Dear PyGui on the main thread, the client session on its own thread.

Invariants:
- The frame loop never waits on the network or the disk: commands go to the client thread
  through Background (ClientHandle.submit); events come back through the handle's queue and
  are applied to this window's own ChatState once per frame, results through Background.
- Views redraw only what changed (room/state versions); see messages.py for the row bound.
- Colours come from the palette (themes are data).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState, mentions_me
from pyrtc.client.state import Connected, Disconnected, Event, Notice
from pyrtc.logsetup import flush_logs

from .avatar import AvatarColours
from .background import Background
from .commands import Commands
from .composer import Composer
from .conversations import Conversations
from .dialogs import AttachDialog, IdentityWarning, NamePrompt, RoomPassword
from .emoji_images import EmojiImages
from .focus import Focus
from .kiosk import Kiosk, share_link
from .links import open_link
from .message_text import TextPainter
from .messages import MessagesView
from .notify import Notifier
from .options import GuiOptions
from .paste import PastePicture
from .picker import Picker
from .row_actions import RowActions
from .rows import RowPainter
from .screen import screen_height
from .sidebars import Sidebars
from .startup import Startup
from .textures import Pictures
from .theme import Theme
from .tones import TonePlayer
from .viewer import PictureViewer
from .window_focus import WindowFocus

__all__ = ["ChatWindow", "GuiOptions", "run_gui"]

LOG_FLUSH_EVERY = 0.5  # seconds; batched log lines (a hosted server's chat.log too)
ERROR_SHOWN = 20.0  # seconds an error stays in the top bar
KIOSK_HIDDEN = ("topbar", "title_line", "rooms_panel", "members_panel", "composer")


class ChatWindow:
    def __init__(self, opts: GuiOptions) -> None:
        self.opts = opts
        self.state = ChatState()
        self.focus = Focus()
        self.theme = Theme(opts.settings)
        self.tones = TonePlayer(muted=bool(opts.settings.get("muted", False)))
        self.bg = Background(on_error=lambda exc: self.show_error(str(exc)))
        self.room_password = RoomPassword()
        self.name_prompt = NamePrompt()
        self.identity = IdentityWarning()
        self.attach_dialog = AttachDialog()
        self.picker = Picker(self.theme)
        self.commands = Commands(self.state, self.bg, self.focus, self.room_password, self.show_error,
                                 kiosk=opts.kiosk)
        self.pictures = Pictures(self.bg)
        self.viewer = PictureViewer(self.bg, self.pictures, self.commands.download)
        self.pictures.show = self.viewer.show
        self.conversations = Conversations(self.state, self.bg, self.focus, self.theme, self.show_error)
        self.commands.compose = self.conversations.compose
        self.paste = PastePicture(self.commands.attach, self.show_error)
        self.startup = Startup(opts, self.bg, self.theme, self.picker, self.name_prompt, self.identity,
                               self.show_error)
        self.avatars = AvatarColours()
        self.window_focus = WindowFocus()
        self.notifier = Notifier(self.bg, opts.settings, focused=lambda: bool(self.window_focus()))
        self.emoji = EmojiImages()
        self.text = TextPainter(self.theme, self.emoji, None if opts.kiosk else lambda link: open_link(
            link, failed=lambda why: self.bg.post(lambda: self.show_error(why))))
        conv = self.conversations
        self.actions = RowActions(self.theme, self.text, lambda m: m.sender == self.state.me,
                                  react=self.commands.react, reply=conv.start_reply, edit=conv.start_edit,
                                  delete=conv.delete)
        self.row_painter = RowPainter(self.state, self.theme, self.pictures, self.avatars, self.text,
                                      react=self.commands.react, download=self.commands.download,
                                      kiosk=opts.kiosk, conversations=conv)
        self.messages = MessagesView(self.state, self.focus, self.theme, self.pictures, self.row_painter,
                                     self.commands, self.actions, kiosk=opts.kiosk)
        self.composer = Composer(self.theme, self.emoji, members=self._member_names)
        self.sidebars = Sidebars(self.state, self.focus, self.theme, self.commands, self.avatars,
                                 muted=self.notifier.muted, jump_to=self.messages.jump_to,
                                 show_error=self.show_error, conversations=conv)
        conv.jump_to = self.messages.jump_to
        self._screen = (screen_height() or 1080) if opts.kiosk else 0
        self.kiosk = Kiosk(self.state, self.theme, opts.clock, screen_height=self._screen,
                           link=lambda: share_link(self.bg.session, self.startup.lan_addresses)) if opts.kiosk else None
        self.frame = 0
        self._error_until = 0.0
        self._said = ""  # the session's latest line, shown before the status line (not in it again)
        self._live_after: dict[str, int] = {}  # per room: the last seq when it was joined

    @property
    def mode(self) -> str:
        return self.startup.mode

    # ------------------------------------------------------------------ setup

    def build(self) -> None:
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        self.theme.load_fonts(self._screen if self.opts.kiosk else None)
        self.pictures.build_registry()
        self.emoji.build_registry()
        dpg.create_viewport(title="PyRTC", width=self.opts.width, height=self.opts.height,
                            min_width=800, min_height=600)
        self._build_main()
        self.picker.build(choose=self.startup.connect_entry, host=self.startup.host_here,
                          address=self.startup.connect_to_text, kiosk=self.opts.kiosk)
        self.room_password.build(self.theme.palette, join=self.commands.join_with_password)
        self.identity.build()
        self.name_prompt.build(self.theme.palette, chosen=self.startup.name_chosen)
        self._apply_theme()
        dpg.setup_dearpygui()

    def _build_main(self) -> None:
        with dpg.window(tag="main", no_scrollbar=True):
            # A table, so that a long status (a reconnect's reason) is clipped in its own column
            # instead of pushing the search field and the buttons out of the window.
            with dpg.table(tag="topbar", header_row=False, policy=dpg.mvTable_SizingFixedFit,
                           pad_outerX=False):
                dpg.add_table_column(width_fixed=True)
                dpg.add_table_column(width_stretch=True, init_width_or_weight=1.0)
                for _ in range(3):
                    dpg.add_table_column(width_fixed=True)
                with dpg.table_row():
                    dpg.add_text("●", tag="status_dot")
                    with dpg.group(horizontal=True):
                        dpg.add_text("", tag="error_text", color=self.theme.palette.error, show=False)
                        dpg.add_text("starting…", tag="status_text")
                    dpg.add_input_text(tag="search", hint="search this room", width=220, on_enter=True,
                                       callback=lambda s, a: self.sidebars.search(a))
                    dpg.add_button(label="Light", tag="theme_button", callback=lambda: self.toggle_theme())
                    dpg.add_button(label="Mute", tag="mute_button", callback=lambda: self.toggle_mute())
            if self.kiosk is not None:
                self.kiosk.build_header()
            with dpg.group(horizontal=True, tag="body"):
                self.sidebars.build_rooms()
                self.messages.build(send=self._send, attach=self.attach_dialog.show,
                                    mute_room=self.toggle_room_muted, composer_extras=self._composer_extras,
                                    composer_bar=self.conversations.build_bar)
                self.sidebars.build_members()
            if self.kiosk is not None:
                self.kiosk.build_side("body")
        with dpg.handler_registry():
            dpg.add_mouse_wheel_handler(callback=lambda s, a: self._wheel(a))
            dpg.add_mouse_move_handler(callback=lambda s, a: self.actions.moved(a))
            dpg.add_mouse_click_handler(dpg.mvMouseButton_Left, callback=lambda: self.actions.clicked())
            # Ctrl+V with a picture on the clipboard: its preview (text pastes as usual)
            dpg.add_key_press_handler(dpg.mvKey_V, callback=lambda: self._ctrl_v())
        self.conversations.build_handlers()
        self.paste.build()
        self.attach_dialog.build(self.commands.attach, self.show_error)
        self.viewer.build()
        self.actions.build()
        self.composer.build()
        dpg.set_primary_window("main", True)
        if self.kiosk is not None:
            for tag in KIOSK_HIDDEN:
                dpg.hide_item(tag)
            dpg.configure_item("messages", height=-(self.theme.fonts.size * 2), width=-(self.kiosk.qr_side + 40),
                               no_scrollbar=True)

    def _member_names(self) -> list[str]:
        room = self.state.rooms.get(self.focus.room or "")
        return [n for n in room.members if n != self.state.me] if room is not None else []

    def _send(self) -> None:
        """Enter: takes the suggestion shown, else sends."""
        if not self.composer.take_enter():
            self.commands.send_input()

    def _composer_extras(self) -> None:
        dpg.add_button(label="Paste picture", tag="paste_button", callback=lambda: self.paste.paste())

    def _ctrl_v(self) -> None:
        if dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl):
            self.paste.paste(quiet=True)

    def _apply_theme(self) -> None:
        self.theme.apply()
        dpg.configure_item("theme_button", label="Dark" if self.theme.palette.name == "light" else "Light")

    def toggle_theme(self) -> None:
        self.theme.toggle()
        self._apply_theme()
        self.messages.redraw()  # names and marks take palette colours
        self.sidebars.redraw()

    def toggle_mute(self) -> None:
        self.tones.muted = not self.tones.muted
        self.opts.settings.set("muted", self.tones.muted)
        dpg.configure_item("mute_button", label="Unmute" if self.tones.muted else "Mute")

    def _wheel(self, delta: float) -> None:
        if not self.viewer.wheel(delta):
            self.messages.wheel(delta)

    def toggle_room_muted(self) -> None:
        """Notifications for the room shown: off, or on again (remembered)."""
        if self.focus.room is not None:
            self.notifier.toggle_muted(self.focus.room)
            self.sidebars.redraw()

    def show_error(self, text: str, *, news: bool = False) -> None:
        """An error stays in view, before the status line (which each frame rewrites), for a
        while. `news`: a line from the session itself ("Ann left; Bob is hosting this chat
        now"), in the warning colour, said there once and not in the status line again."""
        self._error_until = time.monotonic() + ERROR_SHOWN
        if news:
            self._said = text
        dpg.set_value("error_text", f"{text} —")
        pal = self.theme.palette
        dpg.configure_item("error_text", show=True, color=pal.warn if news else pal.error)

    def _expire_error(self) -> None:
        if self._error_until and time.monotonic() > self._error_until:
            self._error_until = 0.0
            dpg.configure_item("error_text", show=False)

    # ------------------------------------------------------------------ per frame

    def tick(self) -> None:
        """Everything one frame does besides drawing: events and results in, views updated."""
        handle = self.bg.handle
        if handle is not None:
            for event in handle.drain_events():
                self._on_event(event)
        self.bg.deliver()
        self._expire_error()
        if self.mode == "chatting":
            self._render()

    def _on_event(self, event: Event) -> None:
        self.state.apply(event)
        match event:
            case p.Posted() if event.sender != self.state.me:
                # A direct message rings as a mention does: it is written to you.
                mention = mentions_me(event.text, self.state.me) or event.room in self.state.directs
                if mention:
                    self.tones.play("mention")
                    if not self.opts.kiosk and event.seq > self._live_after.get(event.room, 0):
                        self.notifier.mentioned(event, direct=event.room in self.state.directs)
                elif event.room != self.focus.room:
                    self.tones.play("message")
            case p.MembersChanged() if any(m.name != self.state.me for m in event.joined):
                self.tones.play("join")
            case p.Joined():
                # History that comes with a (re)join is not news: only later posts notify.
                self._live_after[event.room] = max(self._live_after.get(event.room, 0), event.last_seq)
                if self.focus.room is None or self.focus.room == event.room:
                    self.focus.room = event.room
            case Disconnected() | Connected():
                self.sidebars.redraw()
            case Notice():
                self.show_error(event.text, news=True)
                if self.kiosk is not None:  # its top bar is hidden: the banner says it
                    self.kiosk.news(event.text)
            case _:
                pass

    def _render(self) -> None:
        pal, st = self.theme.palette, self.state
        dot = {"connected": pal.ok, "reconnecting": pal.warn, "connecting": pal.warn}.get(st.connection, pal.error)
        dpg.configure_item("status_dot", color=dot)
        continuity = self.startup.continuity
        hosting = self.startup.hosted is not None or (continuity is not None and continuity.hosted is not None)
        mode = "host mode" if hosting else st.connection
        where = f"{st.server} ({st.address})" if st.server else st.address
        status = f"{mode} — {where} — you are {st.me}"
        if st.notice and st.notice != self._said:
            status += f" — {st.notice}"
        dpg.set_value("status_text", status)
        if self.focus.room not in st.rooms and st.rooms:
            self.focus.room = next(iter(st.rooms))
        self.sidebars.render()
        self.conversations.tick()
        room = st.rooms.get(self.focus.room) if self.focus.room else None
        if self.kiosk is not None:
            self.kiosk.render(self.focus.room)
            self.focus.follow = True  # a wall shows the newest message, always
        if room is None:
            return
        label = "Unmute room" if self.notifier.muted(room.name) else "Mute room"
        if not self.opts.kiosk and (dpg.get_item_label("room_mute") != label or not dpg.is_item_shown("room_mute")):
            dpg.configure_item("room_mute", label=label, show=True)
        self.messages.render(room)
        if not self.opts.kiosk:
            self.composer.tick()
        self.commands.report_read(room.name)
        self.commands.keep_typing_state()

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        self.build()
        if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
            raise RuntimeError("no display (DISPLAY is not set)")
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a kiosk stopped by its service manager) ends the loop as closing the
            # window does: a hosted server says its mDNS goodbye, the logs are written.
            signal.signal(signal.SIGTERM, lambda *_: dpg.stop_dearpygui())
        dpg.show_viewport()
        self.startup.start()
        logs_at = time.perf_counter()
        try:
            while dpg.is_dearpygui_running():
                t0 = time.perf_counter()
                if t0 - logs_at >= LOG_FLUSH_EVERY:
                    logs_at = t0
                    flush_logs()
                self.tick()
                dpg.run_callbacks(dpg.get_callback_queue())
                if self.opts.on_frame is not None:
                    self.opts.on_frame(self)
                dpg.render_dearpygui_frame()
                if self.mode == "chatting":
                    self.messages.after_frame()
                self.frame += 1
        finally:
            self.close()
        return 0

    def close(self) -> None:
        handle = self.bg.handle
        if handle is not None:
            try:
                self.bg.wait(self.startup.shutdown(), 10)
            except Exception:
                pass
            handle.close()
            self.bg.handle = None
        # Its own thread, its own safety net: a server still registering its name is waited
        # for, then says its mDNS goodbye (no fixed few seconds that a busy machine overruns).
        self.startup.close_hosted()
        try:
            dpg.destroy_context()
        except Exception:
            pass


def run_gui(opts: GuiOptions) -> int:
    return ChatWindow(opts).run()
