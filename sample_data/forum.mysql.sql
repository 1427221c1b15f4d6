-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: hobbyforum
-- ------------------------------------------------------
-- Server version	8.0.36

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!50503 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `forums`
--

DROP TABLE IF EXISTS `forums`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `forums` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(64) NOT NULL,
  `description` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `forums`
--

LOCK TABLES `forums` WRITE;
/*!40000 ALTER TABLE `forums` DISABLE KEYS */;
INSERT INTO `forums` VALUES (1,'Cooking','Recipes, techniques and kitchen disasters'),(2,'Programming','Code, tools and the occasional flame war'),(3,'Travel','Trip reports, visas and packing lists'),(4,'Gardening','Vegetables, flowers, lawns and pests');
/*!40000 ALTER TABLE `forums` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `replies`
--

DROP TABLE IF EXISTS `replies`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `replies` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `thread_id` int unsigned NOT NULL,
  `user_id` int unsigned NOT NULL,
  `body` mediumtext COMMENT 'NULL when a moderator removed the reply',
  `accepted` tinyint(1) NOT NULL DEFAULT '0',
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`),
  KEY `thread_id` (`thread_id`),
  CONSTRAINT `replies_ibfk_1` FOREIGN KEY (`thread_id`) REFERENCES `threads` (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=16 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `replies`
--

LOCK TABLES `replies` WRITE;
/*!40000 ALTER TABLE `replies` DISABLE KEYS */;
INSERT INTO `replies` VALUES (1,1,1,'Two usual culprits. First, rinse nothing: you want the starch, but you also want to stop cooking sooner than you think. Pull it off the heat while the centre of each grain still has a little bite, because it keeps cooking in the pan. Second, add the last ladle of stock off the heat with the butter and cheese, then shake the pan rather than stirring. It should spread slowly on the plate, like a wave — \'all\'onda\', as they say.',1,'2023-02-03 20:01:10'),(2,1,4,'Also check your stock isn\'t too salty or too reduced; concentrated stock makes it gluey fast.',0,'2023-02-04 09:12:00'),(3,2,5,'Yes, but not as-is. Chop soft herbs like parsley, coriander and dill, pack them into an ice-cube tray and top up with olive oil or water. Drop a cube straight into soups, stews and sauces. They won\'t work as a garnish afterwards because ice crystals break the leaves, but the flavour holds for about three months. Woody herbs such as rosemary and thyme freeze fine whole on the stem.',1,'2023-02-11 10:45:00'),(4,3,1,'Default values are evaluated once, when the def statement runs, not on every call. So every call that doesn\'t pass items shares the same list object. Use None as a sentinel instead:\n\ndef add(item, items=None):\n    if items is None:\n        items = []\n    items.append(item)\n    return items\n\nThe same trap applies to dicts, sets and any other mutable default.',1,'2023-03-01 22:40:31'),(5,4,2,'Run git reset --soft HEAD~1. It moves the branch back one commit and leaves your changes staged, so you can switch to the right branch and commit there. Use --mixed instead if you want them unstaged. Since you haven\'t pushed, nobody else is affected. If you had pushed, use git revert so you don\'t rewrite shared history.',1,'2023-03-04 10:15:20'),(6,5,2,'Only the rows the query returns, and only against other writers and other FOR UPDATE/FOR SHARE lockers; plain SELECTs still read them without waiting. The locks are held until your transaction commits or rolls back, so keep those transactions short. If you join tables, add FOR UPDATE OF tablename to lock just one side.',0,'2023-03-09 17:20:00'),(7,6,3,'For three days it usually pays off if you do the museums. It covers the metro, buses, trams (including the 28) and the train to Sintra and Cascais, and gives free entry to the Jerónimos Monastery and the Belém Tower. Buy the 72-hour card and start it the morning you go to Belém. If you mostly walk and skip museums, a rechargeable Navegante card with pay-as-you-go is cheaper.',1,'2023-04-14 13:30:00'),(8,9,6,NULL,1,'2023-09-26 08:00:00'),(9,7,3,'Very doable. Pack for one week and do laundry: most hotels and every business hotel chain have coin washers and dryers. Layers matter more than quantity in autumn: a light down jacket, a fleece and a rain shell cover everything from Hokkaido to Kyoto. Use takkyubin (luggage forwarding) if you buy too many souvenirs.',0,'2023-05-02 09:14:00'),(10,8,4,'Upward leaf roll on tomatoes is almost always physiological, not a disease: a reaction to heat, strong sun, irregular watering or heavy pruning. It often appears after a run of hot days in a greenhouse. Ventilate more, water deeply and regularly rather than little and often, and don\'t strip too many leaves at once. If new growth is twisted and distorted as well, suspect herbicide drift instead.',1,'2023-06-18 19:02:11'),(11,9,4,'Climbers like New Dawn flower on side shoots, so prune in late autumn or winter once flowering stops. Tie the long main stems in as horizontally as you can (that makes them produce more flowering side shoots), then shorten those side shoots to two or three buds. Every few years, cut one of the oldest, woodiest stems right down to the base to keep it renewing.',0,'2023-09-25 14:40:09'),(12,10,1,'Beer traps work but need emptying daily. Copper tape around pots, wool pellets as a mulch and watering in the morning instead of the evening all help. Most of all, raise seedlings to a sturdier size on a bench before planting out: slugs go for soft young leaves.',0,'2023-05-21 08:15:00'),(13,10,4,'Nematodes (Phasmarhabditis) watered in when the soil is above 5 °C are safe for hedgehogs and very effective for about six weeks.',0,'2023-05-21 09:30:00'),(14,11,1,'Zwei Stunden sind für Sauerteig meist zu kurz. Lass den Teig bei Zimmertemperatur gehen, bis er etwa um die Hälfte aufgegangen ist, das dauert oft vier bis sechs Stunden. Heize den Ofen mit einem Topf auf 250 Grad vor und lass das Brot nach dem Backen mindestens eine Stunde auskühlen, bevor du es anschneidest.',1,'2023-10-02 20:05:00'),(15,12,5,'Oui, réservez dès que possible. Les billets TGV ouvrent environ quatre mois avant le départ et les prix montent quand le train se remplit. En juillet, les trains du vendredi soir sont souvent complets. Avec deux enfants, regardez aussi les cartes de réduction famille.',1,'2023-10-05 11:02:40');
/*!40000 ALTER TABLE `replies` ENABLE KEYS */;
UNLOCK TABLES;

/*!50003 SET @saved_cs_client      = @@character_set_client */ ;
/*!50003 SET @saved_cs_results     = @@character_set_results */ ;
/*!50003 SET @saved_col_connection = @@collation_connection */ ;
/*!50003 SET character_set_client  = utf8mb4 */ ;
/*!50003 SET character_set_results = utf8mb4 */ ;
/*!50003 SET collation_connection  = utf8mb4_0900_ai_ci */ ;
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`forum`@`localhost`*/ /*!50003 TRIGGER `reply_accepted` AFTER UPDATE ON `replies` FOR EACH ROW BEGIN
  IF NEW.accepted = 1 AND OLD.accepted = 0 THEN
    UPDATE `threads` SET `status` = 'solved' WHERE `id` = NEW.thread_id;
    INSERT INTO `replies` (`thread_id`, `user_id`, `body`, `accepted`, `created_at`)
      VALUES (NEW.thread_id, 6, 'Marked as solved; thanks everyone!', 0, NOW());
  END IF;
END */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50003 SET character_set_client  = @saved_cs_client */ ;
/*!50003 SET character_set_results = @saved_cs_results */ ;
/*!50003 SET collation_connection  = @saved_col_connection */ ;

--
-- Table structure for table `threads`
--

DROP TABLE IF EXISTS `threads`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `threads` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `forum_id` int unsigned NOT NULL,
  `user_id` int unsigned NOT NULL,
  `title` varchar(200) NOT NULL,
  `body` text NOT NULL,
  `status` enum('open','solved','locked') NOT NULL DEFAULT 'open',
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`),
  KEY `forum_id` (`forum_id`),
  FULLTEXT KEY `ft_title_body` (`title`,`body`)
) ENGINE=InnoDB AUTO_INCREMENT=13 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `threads`
--

LOCK TABLES `threads` WRITE;
/*!40000 ALTER TABLE `threads` DISABLE KEYS */;
INSERT INTO `threads` VALUES (1,1,5,'Why does my risotto turn out gluey?','I stir constantly like every recipe says, but it ends up thick and sticky instead of loose. I\'m using arborio and shop-bought stock.\nWhat am I doing wrong?','open','2023-02-03 19:12:45'),(2,1,3,'Can I freeze fresh herbs?','I always end up throwing away half a bunch of coriander and parsley. Is freezing them worth it, or do they just turn to mush?','open','2023-02-11 08:30:02'),(3,2,2,'Python: why is my default list argument shared between calls?','def add(item, items=[]):\n    items.append(item)\n    return items\n\nadd(1) returns [1], but then add(2) returns [1, 2]. I expected [2].','solved','2023-03-01 22:17:09'),(4,2,1,'Git: undo the last commit but keep my changes','I committed to main by mistake and haven\'t pushed yet. How do I take the commit back without losing the edits? The commit also has my settings.py with DB_PASSWORD=\"Tr0ub4dor&3\" in it.','solved','2023-03-04 10:02:55'),(5,2,2,'What does \"SELECT ... FOR UPDATE\" actually lock?','Does it lock the whole table or just the rows I select? We\'re on PostgreSQL 15.','open','2023-03-09 16:45:10'),(6,3,3,'Lisbon in three days: is the Lisboa Card worth it?','First visit, staying in Baixa. Planning Belém, Alfama and a day trip to Sintra. Our hotel gave us a card number for the city tours (4539 1488 0343 6467) but I am not sure that is safe.','solved','2023-04-14 12:00:00'),(7,3,4,'Carry-on only for two weeks in Japan in autumn?','Trying to avoid checked luggage because of the trains. Is a 40 L backpack realistic? If you have done it, email me at wren.travels@example.net or text +1 (312) 555-0147.','open','2023-05-02 06:48:27'),(8,4,4,'Tomato leaves curling upwards: disease or weather?','My greenhouse tomatoes (Gardener\'s Delight) have leaves rolling up into tubes. The fruit looks fine so far.','solved','2023-06-18 17:31:40'),(9,4,1,'When should I prune a climbing rose?','It\'s a New Dawn on a south-facing wall, about five years old and getting very leggy.','open','2023-09-25 11:09:13'),(10,4,5,'Slugs ate every seedling overnight. Help!','Lettuce, beans, all gone. I\'d rather not use pellets because of the hedgehogs.','open','2023-05-21 07:02:58'),(11,1,4,'Wie lange muss Brotteig gehen?','Mein Sauerteigbrot wird innen immer klitschig. Ich lasse den Teig zwei Stunden gehen und backe dann bei 200 Grad. Was mache ich falsch?','solved','2023-10-02 18:20:00'),(12,3,3,'Faut-il réserver le train entre Paris et Lyon ?','Nous partons en juillet avec deux enfants. Est-ce que les billets deviennent beaucoup plus chers si on attend la dernière semaine ?','solved','2023-10-05 09:41:12');
/*!40000 ALTER TABLE `threads` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `users`
--

DROP TABLE IF EXISTS `users`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `users` (
  `id` int unsigned NOT NULL AUTO_INCREMENT,
  `username` varchar(32) NOT NULL,
  `avatar` blob,
  `email` varchar(255) NOT NULL,
  `phone` varchar(32) DEFAULT NULL,
  `last_ip` varchar(45) DEFAULT NULL,
  `joined_at` datetime NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `username` (`username`)
) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `users`
--

LOCK TABLES `users` WRITE;
/*!40000 ALTER TABLE `users` DISABLE KEYS */;
INSERT INTO `users` VALUES (1,'saltandember',NULL,'ember.salt@example.com','+44 7911 123456','81.2.69.142','2021-03-02 09:14:00'),(2,'null_pointer',NULL,'np.dev@example.org',NULL,'2a00:1450:4009:81c::200e','2021-05-19 21:40:12'),(3,'wanderwren',NULL,'wren.travels@example.net','+1 (312) 555-0147','93.184.216.34','2022-01-07 13:05:44'),(4,'compostqueen',0x89504E470D0A1A0A,'queen.of.compost@example.com','+49 30 901820','145.254.12.7','2022-04-23 07:55:31'),(5,'o\'malley',NULL,'sean.omalley@example.ie',NULL,NULL,'2022-09-11 18:22:03'),(6,'moderator',NULL,'mods@hobbyforum.example',NULL,'203.0.113.9','2020-11-30 12:00:00');
/*!40000 ALTER TABLE `users` ENABLE KEYS */;
UNLOCK TABLES;

/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2024-02-17 18:42:07
