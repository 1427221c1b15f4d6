PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO categories VALUES(1,'Cooking');
INSERT INTO categories VALUES(2,'Programming');
INSERT INTO categories VALUES(3,'Travel');
INSERT INTO categories VALUES(4,'Gardening');
INSERT INTO categories VALUES(5,'Home');
CREATE TABLE articles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  category_id INTEGER REFERENCES categories(id),
  title TEXT NOT NULL,
  body TEXT,            -- NULL for stubs
  status TEXT NOT NULL DEFAULT 'draft',
  updated_at TEXT NOT NULL
);
INSERT INTO articles VALUES(1,1,'How do I sharpen a kitchen knife with a whetstone?',replace('Soak the stone for ten minutes if it is a water stone. Hold the blade at about 15 to 20 degrees and push it across the coarse side (around 1000 grit) from heel to tip, keeping the angle steady.\n\nWork one side until you can feel a slight burr along the whole edge on the other side, then switch sides. Repeat on the fine side (3000-6000 grit) with lighter pressure, and finish with a few alternating strokes to remove the burr.','\n',char(10)),'published','2023-01-12 10:00:00');
INSERT INTO articles VALUES(2,1,'What is the difference between baking soda and baking powder?',replace('Baking soda is pure sodium bicarbonate: it needs an acid in the recipe (buttermilk, yoghurt, lemon juice, brown sugar) to release carbon dioxide. Baking powder already contains the acid, so it works with neutral ingredients.\n\nAs a rough swap, 1 teaspoon of baking powder can replace 1/4 teaspoon of soda plus 1/2 teaspoon of cream of tartar.','\n',char(10)),'published','2023-01-15 09:30:00');
INSERT INTO articles VALUES(3,2,'How do I read a file line by line in Python without loading it into memory?',replace('Iterate over the file object itself; it yields one line at a time:\n\n	with open("big.log", encoding="utf-8") as f:\n	    for line in f:\n	        process(line)\n\nAvoid f.read() and f.readlines() on large files: both build the whole content in memory. For binary data, read fixed-size chunks with f.read(65536) in a loop.','\n',char(10)),'published','2023-02-01 14:20:00');
INSERT INTO articles VALUES(4,2,'Why does my regular expression treat a backslash strangely?','In most languages the string literal is processed before the regex engine sees it, so "\d" in a normal string may reach the engine as something else. Use raw strings in Python (r"\d+") or double every backslash: a literal backslash in a pattern is written \\ in a regular string.','published','2023-02-08 11:45:00');
INSERT INTO articles VALUES(5,2,'What does a 502 Bad Gateway error mean?','A proxy or load balancer (nginx, a CDN, a cloud load balancer) tried to reach your application server and got no valid response: the app crashed, timed out, is not listening on the expected port, or closed the connection. Check the application logs first, then the proxy''s error log for the upstream address it tried.','published','2023-02-20 16:05:00');
INSERT INTO articles VALUES(6,3,'Do I need a visa for a layover?','It depends on the country and on whether you leave the airport. Many countries let you stay airside without a visa, but some (the United States and Canada, for example) require a visa or electronic authorisation even for a connection. Check the transit rules of the layover country for your passport, and remember separate tickets usually mean going through immigration to re-check bags.','published','2023-03-03 08:00:00');
INSERT INTO articles VALUES(7,3,'How early should I book trains in Europe?',NULL,'published','2023-03-10 12:00:00');
INSERT INTO articles VALUES(8,4,'When is the best time to plant garlic?','Plant cloves in autumn, from October to early December in temperate climates, so they get a cold spell: garlic needs several weeks below 10 °C to split into cloves. Set them pointed end up, 2-3 cm deep and 15 cm apart, in free-draining soil. Harvest the following summer when the lower third of the leaves have turned yellow.','published','2023-03-22 07:45:00');
INSERT INTO articles VALUES(9,4,'How do I start a compost heap?','Mix roughly equal volumes of "greens" (vegetable peelings, grass clippings, coffee grounds) and "browns" (cardboard, dry leaves, straw). Keep it as damp as a wrung-out sponge and turn it every few weeks to let air in. Leave out meat, dairy and cooked food, which attract rats. A well-managed heap turns into crumbly compost in six to twelve months.','published','2023-04-02 18:30:00');
INSERT INTO articles VALUES(10,5,'How do I bleed a radiator?',NULL,'published','2023-04-11 10:10:00');
INSERT INTO articles VALUES(11,5,'How do I fix a dripping tap?','Turn off the water supply under the sink, open the tap to drain it, and remove the handle and headgear. A traditional tap usually needs a new rubber washer; a quarter-turn ceramic tap needs a new cartridge. Take the old part to the shop to match the size.','draft','2023-04-15 09:00:00');
INSERT INTO articles VALUES(12,1,'Can I substitute butter with oil in a cake?','Yes, in most sponge and muffin recipes: use about three quarters of the butter''s weight in a neutral oil. The cake will be moister and keep longer but taste less buttery, and creaming methods that rely on beating air into butter will rise a little less.','published','2023-05-05 15:00:00');
CREATE TABLE article_history (id INTEGER PRIMARY KEY, article_id INTEGER, title TEXT, changed_at TEXT DEFAULT CURRENT_TIMESTAMP);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('articles',12);
CREATE VIEW published_articles AS SELECT id, title, body FROM articles WHERE status = 'published';
CREATE INDEX articles_by_category ON articles(category_id);
CREATE TRIGGER article_changed AFTER UPDATE ON articles BEGIN
  INSERT INTO article_history (article_id, title) VALUES (new.id, new.title);
  UPDATE articles SET updated_at = CASE WHEN new.status = 'published' THEN CURRENT_TIMESTAMP ELSE old.updated_at END WHERE id = new.id AND 0;
END;
COMMIT;
