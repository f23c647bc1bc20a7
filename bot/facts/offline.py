"""Offline cat facts: these ship with the bot and are answered when no provider can be reached.
They were written for this project; keep each one short, true and plain text.
"""

from __future__ import annotations

FACTS: tuple[str, ...] = (
    (
        "Cats have more than 30 muscles in each outer ear, which lets them swivel each ear on its "
        "own to track where a sound is coming from."
    ),
    (
        "An adult cat normally has 30 permanent teeth, while a kitten has 26 baby teeth that fall "
        "out as the adult set grows in."
    ),
    (
        "Cats cannot taste sweetness, because the gene for one part of the sweet taste receptor "
        "does not work in the cat family."
    ),
    (
        "Cats sleep for roughly 12 to 16 hours a day, often in several short naps rather than one "
        "long stretch."
    ),
    (
        "Cats are most active around dawn and dusk, a pattern known as crepuscular behaviour that "
        "matches the habits of their prey."
    ),
    (
        "Whiskers are deeply rooted, nerve-rich hairs that pick up tiny changes in air movement "
        "and help a cat find its way in the dark."
    ),
    (
        "Besides the whiskers on the face, cats also have a small tuft of stiff sensory hairs on "
        "the back of each front leg."
    ),
    (
        "Cats have a third eyelid, a thin membrane in the inner corner of each eye that helps "
        "protect and moisten the eye."
    ),
    (
        "A reflective layer behind the retina bounces light back through the eye, which is why a "
        "cat's eyes seem to glow in a beam of light."
    ),
    (
        "Cats can see in light far dimmer than people need, although they cannot see anything in "
        "complete darkness."
    ),
    (
        "Cats see blues and greens more easily than reds, so their view of the world is less "
        "colourful than ours."
    ),
    (
        "The vertical slit pupils of a cat can open very wide at night and close to a narrow line "
        "in bright sunlight."
    ),
    (
        "Cats are obligate carnivores, meaning they need nutrients found in animal tissue, such as"
        " the amino acid taurine, to stay healthy."
    ),
    (
        "Many adult cats cannot digest lactose well, so a saucer of cow's milk can give them an "
        "upset stomach."
    ),
    (
        "The domestic cat descends from the African wildcat, a small wild cat found across North "
        "Africa and the Near East."
    ),
    (
        "A cat was found buried alongside a person in a grave on Cyprus about 9,500 years old, "
        "among the earliest signs of people living with cats."
    ),
    (
        "In ancient Egypt cats were widely admired, and the goddess Bastet was often shown with "
        "the head of a cat."
    ),
    (
        "Cats keep purring while they breathe both in and out, which gives the sound its steady, "
        "continuous rumble."
    ),
    (
        "Cats purr when content, but they may also purr when stressed, hurt or giving birth, "
        "possibly as a way to soothe themselves."
    ),
    (
        "Adult cats rarely meow at one another, and most of their meowing seems to be aimed at the"
        " humans they live with."
    ),
    "Most orange cats are male, because the main gene for orange fur sits on the X chromosome.",
    (
        "Calico and tortoiseshell cats are nearly always female, and the rare males usually carry "
        "an extra X chromosome."
    ),
    (
        "Kittens are born with their eyes shut, and the eyes usually open when the kittens are "
        "between one and two weeks old."
    ),
    (
        "Kittens are born with blue eyes, and their adult eye colour gradually develops over the "
        "following weeks."
    ),
    (
        "A cat's pregnancy lasts about nine weeks, and a typical litter has around three to five "
        "kittens."
    ),
    (
        "Kittens usually start eating solid food at about four weeks old and are fully weaned by "
        "around eight weeks."
    ),
    (
        "Cats have a scent organ in the roof of the mouth, and the open-mouthed grimace they "
        "sometimes make helps draw smells toward it."
    ),
    (
        "A cat's sense of smell is far keener than a human's, and smell plays a big part in how "
        "cats recognise people and places."
    ),
    (
        "Cats can hear high-pitched sounds well beyond the range of human hearing, which helps "
        "them pick up the squeaks of small prey."
    ),
    (
        "A cat's claws stay tucked inside sheaths of skin when relaxed, which keeps them sharp and"
        " lets the cat walk silently."
    ),
    (
        "Polydactyl cats are born with extra toes, and many of the cats living at Ernest "
        "Hemingway's old home in Key West have this trait."
    ),
    (
        "Cats sweat mainly through the pads of their paws, which is why a nervous cat can leave "
        "damp paw prints behind."
    ),
    (
        "A cat uses its tail as a counterweight, helping it keep its balance on narrow ledges and "
        "during quick turns."
    ),
    (
        "Falling cats can twist their bodies in midair to turn feet first, a reflex that develops "
        "while they are still young kittens."
    ),
    (
        "A cat's tongue is covered in tiny backward-facing hooks that work like a comb, pulling "
        "loose fur and dirt out of the coat."
    ),
    (
        "Cats spend a large share of their waking hours grooming, which keeps the coat clean and "
        "helps them stay cool."
    ),
    (
        "Hairballs form when fur swallowed during grooming collects in the stomach instead of "
        "passing through the gut."
    ),
    (
        "A slow blink from a cat is a relaxed, friendly signal, and cats often respond in kind "
        "when a person blinks slowly at them."
    ),
    (
        "Kneading with the front paws starts in kittenhood, when kittens press on their mother to "
        "help the milk flow."
    ),
    (
        "When a cat rubs its cheeks against furniture or people, it leaves behind scent from "
        "glands on its face."
    ),
    "A cat that approaches with its tail held straight up is usually giving a friendly greeting.",
    (
        "Cats drink by flicking the tip of the tongue onto the water and pulling up a thin column "
        "of liquid, then closing the jaws on it."
    ),
    (
        "A healthy cat's normal body temperature is a little higher than a human's, at roughly 38 "
        "to 39 degrees Celsius."
    ),
    (
        "Lilies are extremely dangerous to cats, and even a small amount of pollen licked from the"
        " fur can cause kidney failure."
    ),
    "Onions, garlic and chocolate are all toxic to cats and should be kept well away from them.",
    (
        "Catnip contains a chemical called nepetalactone, and the tendency to react to it is "
        "inherited, so not every cat responds."
    ),
    (
        "Sphynx cats look hairless but are usually covered in a fine down, and the breed was "
        "developed in Canada starting in the 1960s."
    ),
    (
        "The Maine Coon is one of the largest domestic cat breeds and is the official state cat of"
        " Maine."
    ),
    (
        "The darker ears, face, paws and tail of a Siamese cat come from a pigment enzyme that "
        "works only in the cooler parts of the body."
    ),
    (
        "The folded ears of the Scottish Fold come from a gene that affects cartilage, and the "
        "same gene can cause painful joint problems."
    ),
    (
        "A cat's collarbones are small and not joined to the rest of the skeleton, which helps it "
        "squeeze through narrow gaps."
    ),
    (
        "Scratching helps a cat shed the worn outer layers of its claws and also leaves scent "
        "marks from glands in its paws."
    ),
    (
        "Because a cat's claws curve backward, it can climb up a tree easily but often has to back"
        " down tail first."
    ),
    (
        "Cats walk on their toes rather than on the soles of their feet, which helps them move "
        "quickly and quietly."
    ),
    (
        "Powerful hind legs let a healthy cat leap several times its own height from a standing "
        "start."
    ),
    "The oldest cat on record, Creme Puff from Texas, lived to be 38 years old.",
    (
        "Cats often make a rapid chattering sound while watching birds through a window, though "
        "the exact reason is still debated."
    ),
    (
        "Cats have only a few hundred taste buds, far fewer than the thousands found on a human "
        "tongue."
    ),
    "An adult male cat is called a tom and an unspayed female is called a queen.",
    (
        "Cats usually bury their waste by instinct, so most kittens learn to use a litter box with"
        " little training."
    ),
)

__all__ = ["FACTS"]
