"""``!settings`` end to end in dpytest's guild: reading, changing, refusals, and the effect of
each setting on the next command; then on real SQLite and PostgreSQL, across a restart."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.core import CatFactBot
from bot.database import parse_database_url
from bot.error_handler import NOT_SAVED
from bot.guild_settings import InvalidSetting, NotSavedError
from bot.settings import Settings
from cogs.catfact import OFFLINE_IN_ENGLISH_FOOTER
from cogs.settings import ServerSettings
from fakes import FACTS, GERMAN_FACTS, FakeMeowfacts, interaction_context
from tests.conftest import running_bot

# --- Members ---------------------------------------------------------------------------------


@pytest.fixture
def admin(bot: CatFactBot) -> discord.Member:
    """A member with the Manage Server permission (not the bot's owner)."""
    return add_admin()


def add_admin() -> discord.Member:
    guild = dpytest.get_config().guilds[0]
    role = dpytest_backend.make_role(
        "Moderators", guild, permissions=discord.Permissions(manage_guild=True).value
    )
    user = dpytest_backend.make_user("carol", "0003")
    return dpytest_backend.make_member(user, guild, roles=[role])


def reply() -> str:
    return str(dpytest.get_message().content)


# --- Reading ---------------------------------------------------------------------------------


async def test_anyone_can_read_the_settings_and_sees_the_defaults(
    bot: CatFactBot, alice: discord.Member
) -> None:
    await dpytest.message("!settings", member=alice)
    embed = dpytest.get_embed()
    assert embed.title == "Settings for Test Guild 0"
    fields = {field.name: field.value for field in embed.fields}
    assert fields == {
        "Prefix": "`!` (mentioning me works too), the default",
        "Language": "English, the default",
        "Cooldown": "off, the default",  # the suite's settings turn the cooldown off
    }
    assert embed.footer.text == (
        "Admins change them with !settings <name> <value>, or !settings reset."
    )
    assert embed.colour == discord.Colour.blurple()
    assert [field.inline for field in embed.fields] == [False, False, False]


async def test_one_setting_can_be_read_with_how_to_change_it(
    bot: CatFactBot, alice: discord.Member
) -> None:
    await dpytest.message("!settings Language", member=alice)
    assert reply() == (
        "Language: English, the default. Change it with `!settings language <value>`."
    )


# --- Changing --------------------------------------------------------------------------------


async def test_an_admin_changes_the_prefix_and_the_next_message_uses_it(
    bot: CatFactBot, admin: discord.Member
) -> None:
    await dpytest.message("!settings prefix ?", member=admin)
    assert reply() == "Done: the prefix here is now `?`. Mentioning me works too."
    await dpytest.message("!add 1 2", member=admin)
    assert dpytest.verify().message().nothing()  # the old prefix is another bot's now
    await dpytest.message("?add 1 2", member=admin)
    assert reply() == "3"
    assert bot.user is not None
    await dpytest.message(f"{bot.user.mention} add 2 2", member=admin)
    assert reply() == "4"  # a mention always works: a server can't lock itself out
    await dpytest.message("?help add", member=admin)
    assert "?add 2 3 gives 5." in reply()  # help speaks the new prefix


async def test_the_bots_owner_may_change_settings_too(
    bot: CatFactBot, owner: discord.Member
) -> None:
    await dpytest.message("!settings cooldown 10", member=owner)
    assert reply() == "Done: each person now waits 10 s between two cat facts."
    await dpytest.message("!settings", member=owner)
    embed = dpytest.get_embed()
    assert embed.fields[2].value == "10 s between two cat facts per person"
    assert embed.fields[3].name == "Last changed"
    assert not embed.fields[3].inline


async def test_a_member_without_manage_server_is_refused_and_nothing_changes(
    bot: CatFactBot, alice: discord.Member
) -> None:
    with pytest.raises(commands.MissingPermissions):
        await dpytest.message("!settings prefix ?", member=alice)
    assert reply() == "You need the Manage Server permission to do that."
    with pytest.raises(commands.MissingPermissions):
        await dpytest.message("!settings reset", member=alice)
    assert reply() == "You need the Manage Server permission to do that."
    guild = dpytest.get_config().guilds[0]
    assert bot.settings_for(guild).prefix == "!"


async def test_settings_in_a_dm_say_they_belong_to_a_server(
    bot: CatFactBot, alice: discord.Member
) -> None:
    dm = await alice.create_dm()
    with pytest.raises(commands.NoPrivateMessage):
        await dpytest.message("!settings", channel=dm, member=alice)
    assert reply() == "Settings belong to a server: use `!settings` in one, not in a DM."


async def test_the_language_changes_by_any_of_its_names(
    bot: CatFactBot, admin: discord.Member
) -> None:
    for text, answer in [
        ("ger", "German (Deutsch)"),
        ("Français", "French (Français)"),
        ("esp-mx", "Spanish (Mexico), Español (México)"),
        ("English", "English"),
    ]:
        await dpytest.message(f"!settings language {text}", member=admin)
        assert reply() == f"Done: cat facts here are now in {answer}."


async def test_reset_brings_back_the_defaults_and_the_footer_says_who(
    bot: CatFactBot, admin: discord.Member
) -> None:
    await dpytest.message("!settings prefix $", member=admin)
    dpytest.get_message()
    await dpytest.message("$settings reset", member=admin)
    assert reply() == "Done: every setting here is back to its default."
    await dpytest.message("!settings", member=admin)
    embed = dpytest.get_embed()
    assert embed.fields[0].value == "`!` (mentioning me works too), the default"
    assert embed.fields[-1].name == "Last changed"
    assert embed.fields[-1].value == "by carol on 2026-01-01"  # the display name


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("!settings prefix " + "x" * 5000, "`xxxxxxxxxx…` is too long"),
        ("!settings prefix @everyone", "`@\u200beveryone` is too long"),
        ("!settings prefix @", "A prefix can't contain `@`: it could ping people."),
        ("!settings prefix **", None),  # markdown is fine in a prefix: it is shown as code
        ("!settings language Klingon", "I don't know the language `Klingon`. I can speak: "),
        ("!settings language <@&1>", "I don't know the language `<\u200b@&1>`."),
        ("!settings cooldown 9999", "The cooldown is a whole number of seconds from 0 to 3600"),
        ("!settings colour red", "There is no setting called `colour`."),
    ],
)
async def test_hostile_values_get_a_short_reply_naming_the_problem(
    bot: CatFactBot, admin: discord.Member, command: str, answer: str | None
) -> None:
    if answer is None:
        await dpytest.message(command, member=admin)
        assert reply() == "Done: the prefix here is now `**`. Mentioning me works too."
        return
    with pytest.raises(InvalidSetting):
        await dpytest.message(command, member=admin)
    text = reply()
    assert text.startswith(answer)
    assert len(text) < 2000
    assert "@everyone" not in text


async def test_a_changed_cooldown_applies_from_the_next_command(
    bot: CatFactBot, admin: discord.Member
) -> None:
    await dpytest.message("!catfact", member=admin)
    await dpytest.message("!catfact", member=admin)  # no cooldown in the suite's settings
    assert len([dpytest.get_embed(), dpytest.get_embed()]) == 2
    await dpytest.message("!settings cooldown 60", member=admin)
    dpytest.get_message()
    await dpytest.message("!catfact", member=admin)
    dpytest.get_embed()
    with pytest.raises(commands.CommandOnCooldown):
        await dpytest.message("!catfact", member=admin)
    assert reply() == "Easy there! You can use `!catfact` again in 60 s."
    await dpytest.message("!settings cooldown 0", member=admin)
    dpytest.get_message()
    await dpytest.message("!catfact", member=admin)
    assert dpytest.get_embed().description in FACTS  # at once: the old cooldown is gone


async def test_a_german_server_gets_german_facts_from_meowfacts(
    bot: CatFactBot, admin: discord.Member, meowfacts: FakeMeowfacts
) -> None:
    await dpytest.message("!catfact", member=admin)
    assert dpytest.get_embed().description in FACTS
    await dpytest.message("!settings language Deutsch", member=admin)
    dpytest.get_message()
    told = []
    for _ in range(3):
        await dpytest.message("!catfact", member=admin)
        told.append(dpytest.get_embed().description)
    assert all(fact in GERMAN_FACTS for fact in told)
    assert len(set(told)) == 3
    # English at start-up, then German once, on the server's first German fact.
    assert [query for query in meowfacts.queries if "lang=ger" in query] == [
        "/?lang=ger-de&count=1000"
    ]
    assert meowfacts.requests == 2


async def test_a_new_server_speaks_its_discord_locale(
    bot: CatFactBot, alice: discord.Member, meowfacts: FakeMeowfacts
) -> None:
    guild = dpytest.get_config().guilds[0]
    guild.preferred_locale = discord.Locale.german  # as Discord's guild update would set it
    await dpytest.message("!settings language", member=alice)
    assert reply() == (
        "Language: German (Deutsch), the default. Change it with `!settings language <value>`."
    )
    await dpytest.message("!catfact", member=alice)
    assert dpytest.get_embed().description in GERMAN_FACTS


async def test_with_meowfacts_down_a_german_server_gets_an_english_offline_fact_and_the_note(
    bot: CatFactBot, admin: discord.Member, meowfacts: FakeMeowfacts
) -> None:
    await dpytest.message("!settings language ger", member=admin)
    dpytest.get_message()
    meowfacts.handler = meowfacts.body("<html>Application error</html>", status=503)
    await dpytest.message("!catfact", member=admin)
    embed = dpytest.get_embed()
    assert embed.footer.text == OFFLINE_IN_ENGLISH_FOOTER
    assert embed.description not in GERMAN_FACTS


# --- The slash face --------------------------------------------------------------------------


async def slash_settings(bot: CatFactBot, member: discord.Member, **options: str) -> MagicMock:
    """``/settings`` run by ``member`` with ``options``, as its slash face calls it."""
    command = bot.get_command("settings")
    assert command is not None
    ctx = interaction_context(command)
    ctx.guild, ctx.author, ctx.bot = dpytest.get_config().guilds[0], member, bot
    ctx.interaction.created_at = discord.utils.utcnow()
    callback: Any = command.callback
    await callback(command.cog, ctx, **options)
    return ctx


async def test_slash_settings_refuses_a_member_without_manage_server(
    mocked_bot: CatFactBot,
) -> None:
    alice = dpytest.get_config().members[0]
    with pytest.raises(commands.MissingPermissions):
        await slash_settings(mocked_bot, alice, name="prefix", value="?")


async def test_slash_settings_changes_a_setting(mocked_bot: CatFactBot) -> None:
    guild = dpytest.get_config().guilds[0]
    owner = dpytest.get_config().members[1]
    ctx = await slash_settings(mocked_bot, owner, name="language", value="Deutsch")
    ctx.send.assert_awaited_once_with("Done: cat facts here are now in German (Deutsch).")
    assert mocked_bot.settings_for(guild).language.code == "ger-de"
    assert mocked_bot.settings_for(guild).stored.changed_at == ctx.interaction.created_at


async def test_slash_settings_suggests_the_names_then_the_languages(
    mocked_bot: CatFactBot,
) -> None:
    # Each bot loads its own copy of the cog's module, hence no isinstance; and discord.py hands
    # the suggestion methods back as they were, which mypy sees as unbound.
    cog: Any = mocked_bot.get_cog("Settings")
    assert type(cog).__name__ == ServerSettings.__name__
    suggest_names, suggest_values = cog._suggest_names, cog._suggest_values
    interaction = MagicMock(spec=discord.Interaction)
    names = await suggest_names(interaction, "RE")
    assert [choice.value for choice in names] == ["reset"]
    assert len(await suggest_names(interaction, "")) == 4
    interaction.namespace = SimpleNamespace(name="language")
    german = await suggest_values(interaction, "deu")
    assert [(c.name, c.value) for c in german] == [("German (Deutsch)", "ger-de")]
    assert len(await suggest_values(interaction, "")) == 15
    interaction.namespace = SimpleNamespace(name="prefix")
    assert await suggest_values(interaction, "") == []


# --- On real databases, across a restart -----------------------------------------------------


@pytest_asyncio.fixture
async def stored_settings(settings: Settings, database_url: str) -> Settings:
    """The suite's settings, with servers' settings kept in the test's real database."""
    return dataclasses.replace(settings, database=parse_database_url(database_url))


@pytest.mark.real_time  # the database answers from another thread or process
async def test_settings_survive_a_restart_on_both_engines(stored_settings: Settings) -> None:
    async with running_bot(stored_settings) as first:
        admin = add_admin()
        await dpytest.message("!settings prefix ?", member=admin)
        assert reply() == "Done: the prefix here is now `?`. Mentioning me works too."
        guild_id = dpytest.get_config().guilds[0].id
        assert first.guild_settings.loaded(guild_id)
    async with running_bot(stored_settings) as restarted:
        # dpytest makes a new guild each time: ask for the first one's settings by its id.
        await restarted.guild_settings.ensure(guild_id)
        assert restarted.guild_settings.prefix_for(guild_id) == "?"


@pytest.mark.real_time
async def test_a_change_the_database_cannot_take_is_refused_and_nothing_changes(
    settings: Settings,
) -> None:
    down = dataclasses.replace(
        settings, database=parse_database_url("sqlite:////dev/null/settings.db")
    )
    async with running_bot(down) as test_bot:
        admin = add_admin()
        with pytest.raises(commands.CommandInvokeError) as caught:
            await dpytest.message("!settings prefix ?", member=admin)
        assert isinstance(caught.value.original, NotSavedError)
        assert reply() == NOT_SAVED
        await dpytest.message("!add 1 2", member=admin)
        assert reply() == "3"  # commands go on, with the defaults
        assert test_bot.guild_settings.prefix_for(dpytest.get_config().guilds[0].id) == "!"


async def test_who_changed_settings_is_shown_even_when_not_in_the_member_cache(
    bot: CatFactBot, admin: discord.Member, alice: discord.Member
) -> None:
    """A connected bot caches almost no members (no members intent): Discord shows a mention in
    an embed as the member's name, without pinging."""
    await dpytest.message("!settings cooldown 5", member=admin)
    dpytest.get_message()
    guild = dpytest.get_config().guilds[0]
    guild._remove_member(admin)  # as if never cached
    await dpytest.message("!settings", member=alice)
    assert dpytest.get_embed().fields[-1].value == f"by <@{admin.id}> on 2026-01-01"


async def test_reset_takes_no_value(bot: CatFactBot, admin: discord.Member) -> None:
    with pytest.raises(InvalidSetting):
        await dpytest.message("!settings reset now", member=admin)
    assert reply() == (
        "`!settings reset` takes nothing after it: it puts every setting back to its default."
    )


async def test_servers_arriving_and_leaving_are_read_and_forgotten(bot: CatFactBot) -> None:
    joined = dpytest_backend.make_guild("Joined later")  # Discord's GUILD_CREATE
    await dpytest.run_all_events()
    assert bot.guild_settings.loaded(joined.id)
    bot.dispatch("guild_remove", joined)
    await dpytest.run_all_events()
    assert not bot.guild_settings.loaded(joined.id)
    bot.dispatch("guild_available", joined)  # as at a start-up, or a shard's reconnection
    await dpytest.run_all_events()
    assert bot.guild_settings.loaded(joined.id)


async def test_in_a_dm_commands_use_the_operators_defaults(
    bot: CatFactBot, alice: discord.Member
) -> None:
    dm = await alice.create_dm()
    await dpytest.message("!catfact", channel=dm, member=alice)
    assert dpytest.get_embed().description in FACTS  # English, whatever any server chose
    assert bot.settings_for(None).prefix == "!"
